import { Metadata } from '@grpc/grpc-js';
import { TokenVerifier, tokenMetadata } from './token-auth.js';

describe('token verifier', () => {
  const verifier = new TokenVerifier('job-7-secret-0123456789');

  it('accepts the job token and tells a missing token from a wrong one', () => {
    expect(verifier.check(tokenMetadata('job-7-secret-0123456789'))).toBe('ok');
    expect(verifier.check(tokenMetadata('job-7-secret-012345678'))).toBe('wrong');
    expect(verifier.check(tokenMetadata('x'))).toBe('wrong');
    expect(verifier.check(new Metadata())).toBe('missing');
  });
});
