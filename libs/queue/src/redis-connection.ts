import { Redis, type RedisOptions } from 'ioredis';

/**
 * `producer` connections fail fast when Redis is down (the database row is the truth and the
 * reconciler re-adds what could not be queued); `worker` and `subscriber` connections wait and
 * retry forever, as BullMQ requires for blocking commands.
 */
export type RedisRole = 'producer' | 'worker' | 'subscriber';

export function createRedis(url: string, role: RedisRole): Redis {
  const opts: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false }
      : { maxRetriesPerRequest: null, enableReadyCheck: false };
  return new Redis(url, { ...opts, connectionName: `medfusion-${role}` });
}

/** Resolves once the connection is ready, or rejects with a message that says what to start. */
export async function waitForRedis(redis: Redis, url: string, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`cannot reach Redis at ${url} within ${timeoutMs} ms: is redis-server running?`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
