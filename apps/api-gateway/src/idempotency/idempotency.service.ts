import { HttpStatus, Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiError } from '../common/api-error.js';
import { GatewayConfig } from '../infrastructure/gateway-config.js';

export type IdempotencyClaim =
  | { kind: 'claimed'; claim: ClaimedKey }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in-progress' }
  | { kind: 'mismatch'; method: string; path: string };

/**
 * A key this request holds. `claimedAt` (the claim row's created_at, to the microsecond) tells
 * this claim from a later one a retry made after taking the key over as stale.
 */
export interface ClaimedKey {
  owner: string;
  key: string;
  /** The status code the route answers with; stored with the response. */
  status: number;
  claimedAt: string;
  /** Set once the response was stored in the transaction that created the resource. */
  stored?: { body: unknown };
}

/** The key the request being handled holds, if any (set by IdempotencyInterceptor around the handler). */
const currentClaim = new AsyncLocalStorage<ClaimedKey>();

export function runWithClaim<T>(claim: ClaimedKey, fn: () => T): T {
  return currentClaim.run(claim, fn);
}

/**
 * Runs `work` (the writes that create the request's resource) in one transaction that, when the
 * request carries an Idempotency-Key, also marks the key done with the response: `response(result)`,
 * the body the route returns (the result itself unless the route maps it). So the resource and
 * the stored response commit together or not at all. A gateway that dies before the commit
 * leaves the key `in_progress` and nothing else; once stale, a retry takes the key over and
 * creates the resource once. A gateway that dies after it leaves a key whose retry replays the
 * response. Side effects that may be repeated (adding the BullMQ job, whose id is the row id, or
 * a wake-up message) belong after this resolves: the scheduler re-adds queued rows Redis lacks.
 * Fails with 409, creating nothing, when this request's claim was taken over meanwhile.
 */
export async function commitWithIdempotencyKey<T>(ds: DataSource, work: (manager: EntityManager) => Promise<T>, response: (result: T) => unknown = (r) => r): Promise<T> {
  const claim = currentClaim.getStore();
  if (!claim || claim.stored) return ds.transaction(work);
  let body: unknown;
  const result = await ds.transaction(async (manager) => {
    const created = await work(manager);
    body = response(created);
    // TypeORM's query() answers an UPDATE on Postgres with [rows, affected].
    const [, affected] = (await manager.query(
      `UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4
        WHERE owner = $1 AND key = $2 AND state = 'in_progress' AND created_at = $5::timestamptz`,
      [claim.owner, claim.key, claim.status, JSON.stringify(body ?? null), claim.claimedAt],
    )) as [unknown[], number];
    if (affected !== 1) {
      throw new ApiError(HttpStatus.CONFLICT, 'Idempotency-Key: this request took too long and a retry with the same key took it over; nothing was created by this request', [
        { field: 'Idempotency-Key', message: 'taken over by a retry' },
      ]);
    }
    return created;
  });
  claim.stored = { body };
  return result;
}

/**
 * Remembers POST responses per (owner, Idempotency-Key). The key is claimed with an INSERT before
 * the handler runs, so two concurrent requests with one key cannot both create a resource: the
 * second sees `in-progress` (409) and a later retry gets the stored response. Routes that create
 * rows store the response in the same transaction (commitWithIdempotencyKey); for the others the
 * interceptor stores it once the handler has returned.
 */
@Injectable()
export class IdempotencyService {
  constructor(
    private readonly ds: DataSource,
    private readonly config: GatewayConfig,
  ) {}

  async claim(owner: string, key: string, method: string, path: string, requestHash: string, status: number): Promise<IdempotencyClaim> {
    const ttlHours = this.config.env.IDEMPOTENCY_TTL_HOURS;
    // An expired record is forgotten, so the key may be reused; so is a claim whose request died
    // with its gateway (no request takes IDEMPOTENCY_STALE_SECONDS). What that request created
    // would have committed with the key's response, so a key still in progress created nothing.
    await this.ds.query(
      `DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2
         AND (created_at < now() - make_interval(hours => $3)
              OR (state = 'in_progress' AND created_at < now() - make_interval(secs => $4)))`,
      [owner, key, ttlHours, this.config.env.IDEMPOTENCY_STALE_SECONDS],
    );
    const inserted: { claimed_at: string }[] = await this.ds.query(
      `INSERT INTO idempotency_keys (owner, key, method, path, request_hash, state) VALUES ($1, $2, $3, $4, $5, 'in_progress')
       ON CONFLICT (owner, key) DO NOTHING RETURNING created_at::text AS claimed_at`,
      [owner, key, method, path, requestHash],
    );
    if (inserted.length) return { kind: 'claimed', claim: { owner, key, status, claimedAt: inserted[0]!.claimed_at } };
    const [row] = (await this.ds.query(
      `SELECT method, path, request_hash, state, response_status, response_body FROM idempotency_keys WHERE owner = $1 AND key = $2`,
      [owner, key],
    )) as Array<{ method: string; path: string; request_hash: string; state: string; response_status: number | null; response_body: unknown }>;
    if (!row) return this.claim(owner, key, method, path, requestHash, status); // deleted in between: try again
    if (row.method !== method || row.path !== path || row.request_hash !== requestHash) return { kind: 'mismatch', method: row.method, path: row.path };
    if (row.state !== 'done') return { kind: 'in-progress' };
    return { kind: 'replay', status: row.response_status!, body: row.response_body };
  }

  /** Stores the response of a route that did not store it with its writes (a state change, say). */
  async complete(claim: ClaimedKey, body: unknown): Promise<void> {
    await this.ds.query(
      `UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4
        WHERE owner = $1 AND key = $2 AND state = 'in_progress' AND created_at = $5::timestamptz`,
      [claim.owner, claim.key, claim.status, JSON.stringify(body ?? null), claim.claimedAt],
    );
  }

  /** The route returned another object than the one stored with its writes: keep what was sent. */
  async replaceResponse(claim: ClaimedKey, body: unknown): Promise<void> {
    await this.ds.query(`UPDATE idempotency_keys SET response_body = $3 WHERE owner = $1 AND key = $2 AND state = 'done' AND created_at = $4::timestamptz`, [
      claim.owner,
      claim.key,
      JSON.stringify(body ?? null),
      claim.claimedAt,
    ]);
  }

  /** The request failed: forget this request's claim (not a retry's) so the client can retry with the key. */
  async release(claim: ClaimedKey): Promise<void> {
    await this.ds.query(`DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND state = 'in_progress' AND created_at = $3::timestamptz`, [
      claim.owner,
      claim.key,
      claim.claimedAt,
    ]);
  }
}
