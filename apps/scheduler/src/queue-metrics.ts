import { createHash, timingSafeEqual } from 'node:crypto';
import { measureTrainingDemand, type ServiceConnections, type TrainingDemand, type TrainingQueue } from '@medfusion/queue';
import type { HealthRoute, HealthRouteRequest } from '@medfusion/runtime';

/** Where KEDA's `metrics-api` trigger reads the training queue's demand (on the scheduler's health port). */
export const QUEUE_METRICS_PATH = '/metrics/queue';

/** How long one measurement answers every request: KEDA polls every 15 s, a flood gets one query a second. */
export const QUEUE_METRICS_CACHE_MS = 1000;

export interface QueueMetricsOptions {
  /** When set, requests must send `Authorization: Bearer <token>` (KEDA: a TriggerAuthentication with authMode bearer). */
  token?: string;
  cacheMs?: number;
  /** The measurement; the real one unless a test replaces it. */
  measure?: () => Promise<TrainingDemand>;
}

/**
 * JSON for KEDA's `metrics-api` scaler: `{ training: { workersNeeded, ... } }`, read with
 * `valueLocation: training.workersNeeded`. One figure, because KEDA combines several triggers by
 * their maximum, not their sum: waiting list and prioritized set as separate triggers would
 * under-count the work, and neither would know how many workers each gang needs.
 *
 * The port is reachable in the cluster, so the route must be cheap whoever calls it: requests
 * share one measurement (single flight) and its outcome, success or failure, answers for
 * `cacheMs` after it ends; `measuredAt` says when it was taken. A wrong or missing token is
 * refused before anything is measured.
 */
export function queueMetricsRoute(queue: TrainingQueue, conn: Pick<ServiceConnections, 'redis' | 'ds'>, options: QueueMetricsOptions = {}): HealthRoute {
  const measure = options.measure ?? (() => measureTrainingDemand(queue, conn.redis, conn.ds));
  const cached = singleFlight(measure, options.cacheMs ?? QUEUE_METRICS_CACHE_MS);
  const expected = options.token ? digest(options.token) : undefined;
  return async (req?: HealthRouteRequest) => {
    if (expected && !bearerMatches(req?.headers.authorization, expected)) {
      return { status: 401, body: { statusCode: 401, message: `${QUEUE_METRICS_PATH}: send Authorization: Bearer <QUEUE_METRICS_TOKEN>` }, headers: { 'www-authenticate': 'Bearer' } };
    }
    const { value, at } = await cached();
    return { status: 200, body: { training: value, measuredAt: at.toISOString() } };
  };
}

/**
 * `fn`'s result shared by every caller while one call runs and for `ttlMs` after it settles. A
 * failure is shared the same way: a caller polling a broken dependency does not turn into one
 * query per request.
 */
export function singleFlight<T>(fn: () => Promise<T>, ttlMs: number): () => Promise<{ value: T; at: Date }> {
  let last: { promise: Promise<{ value: T; at: Date }>; settledAt?: number } | undefined;
  return () => {
    if (last && (last.settledAt === undefined || Date.now() - last.settledAt < ttlMs)) return last.promise;
    const entry: { promise: Promise<{ value: T; at: Date }>; settledAt?: number } = {
      promise: fn().then(
        (value) => {
          entry.settledAt = Date.now();
          return { value, at: new Date(entry.settledAt) };
        },
        (err: unknown) => {
          entry.settledAt = Date.now();
          throw err;
        },
      ),
    };
    last = entry;
    return entry.promise;
  };
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Compares hashes so the time taken says nothing about how much of the token matched. */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}
