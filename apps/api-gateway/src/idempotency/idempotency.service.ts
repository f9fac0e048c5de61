import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GatewayConfig } from '../infrastructure/gateway-config.js';

export type IdempotencyClaim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in-progress' }
  | { kind: 'mismatch'; method: string; path: string };

const IN_PROGRESS_STALE_MINUTES = 5;

/**
 * Remembers POST responses per (owner, Idempotency-Key). The key is claimed with an INSERT before
 * the handler runs, so two concurrent requests with one key cannot both create a resource: the
 * second sees `in-progress` (409) and a later retry gets the stored response.
 */
@Injectable()
export class IdempotencyService {
  constructor(
    private readonly ds: DataSource,
    private readonly config: GatewayConfig,
  ) {}

  async claim(owner: string, key: string, method: string, path: string, requestHash: string): Promise<IdempotencyClaim> {
    const ttlHours = this.config.env.IDEMPOTENCY_TTL_HOURS;
    // An expired record is forgotten, so the key may be reused; so is a claim whose request died
    // with its gateway (no request takes IN_PROGRESS_STALE_MINUTES).
    await this.ds.query(
      `DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2
         AND (created_at < now() - make_interval(hours => $3)
              OR (state = 'in_progress' AND created_at < now() - make_interval(mins => $4)))`,
      [owner, key, ttlHours, IN_PROGRESS_STALE_MINUTES],
    );
    const inserted: unknown[] = await this.ds.query(
      `INSERT INTO idempotency_keys (owner, key, method, path, request_hash, state) VALUES ($1, $2, $3, $4, $5, 'in_progress')
       ON CONFLICT (owner, key) DO NOTHING RETURNING key`,
      [owner, key, method, path, requestHash],
    );
    if (inserted.length) return { kind: 'claimed' };
    const [row] = (await this.ds.query(
      `SELECT method, path, request_hash, state, response_status, response_body FROM idempotency_keys WHERE owner = $1 AND key = $2`,
      [owner, key],
    )) as Array<{ method: string; path: string; request_hash: string; state: string; response_status: number | null; response_body: unknown }>;
    if (!row) return this.claim(owner, key, method, path, requestHash); // deleted in between: try again
    if (row.method !== method || row.path !== path || row.request_hash !== requestHash) return { kind: 'mismatch', method: row.method, path: row.path };
    if (row.state !== 'done') return { kind: 'in-progress' };
    return { kind: 'replay', status: row.response_status!, body: row.response_body };
  }

  async complete(owner: string, key: string, status: number, body: unknown): Promise<void> {
    await this.ds.query(`UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4 WHERE owner = $1 AND key = $2`, [
      owner,
      key,
      status,
      JSON.stringify(body ?? null),
    ]);
  }

  /** The request failed: forget the key so the client can retry with it. */
  async release(owner: string, key: string): Promise<void> {
    await this.ds.query(`DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND state = 'in_progress'`, [owner, key]);
  }
}
