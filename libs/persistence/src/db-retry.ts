import { isTransientDbError } from './pg-errors.js';

export interface DbRetryOptions {
  /** Give up once this long has passed since the first attempt (the last error is thrown). */
  maxMs: number;
  /** First delay; it doubles up to `maxDelayMs`, with jitter so workers do not retry in step. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each wait, to log the error being retried. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `op`, repeating it while it fails with a transient database error (a lost connection, a
 * server restarting: isTransientDbError) for at most `maxMs`. Any other error, and the last
 * transient one, is thrown. `op` must be safe to repeat: a statement whose connection died may or
 * may not have committed.
 */
export async function withDbRetry<T>(op: () => Promise<T>, opts: DbRetryOptions): Promise<T> {
  const start = Date.now();
  const initial = opts.initialDelayMs ?? 100;
  const maxDelay = opts.maxDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const elapsed = Date.now() - start;
      if (!isTransientDbError(err) || elapsed >= opts.maxMs) throw err;
      const base = Math.min(maxDelay, initial * 2 ** (attempt - 1));
      const delay = Math.min(Math.round(base * (0.5 + Math.random() / 2)), Math.max(0, opts.maxMs - elapsed));
      opts.onRetry?.(err, attempt, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
