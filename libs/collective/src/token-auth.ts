import { Metadata } from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';

/** The metadata header every collective call carries the job's token in. */
export const TOKEN_METADATA_KEY = 'collective-token';

export function tokenMetadata(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set(TOKEN_METADATA_KEY, token);
  return metadata;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Checks a call's token against the job's. Both sides are hashed first so the comparison takes the
 * same time whatever the lengths, and `timingSafeEqual` does not leak how many bytes matched.
 */
export class TokenVerifier {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  /** True when `candidate` is the job's token (the data plane's greeting carries it). */
  verify(candidate: string): boolean {
    return candidate.length > 0 && timingSafeEqual(digest(candidate), this.expected);
  }

  /** 'missing' or 'wrong' for a call to reject, 'ok' for one to serve. */
  check(metadata: Metadata): 'ok' | 'missing' | 'wrong' {
    const values = metadata.get(TOKEN_METADATA_KEY);
    const value = values.length === 1 ? values[0] : undefined;
    if (typeof value !== 'string' || value.length === 0) return 'missing';
    return timingSafeEqual(digest(value), this.expected) ? 'ok' : 'wrong';
  }
}
