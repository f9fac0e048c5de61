import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Env } from '@medfusion/config';
import { openDatabase, type DatabaseIdentity } from '@medfusion/persistence';
import type { ReadinessCheck } from '@medfusion/runtime';
import { createRedis, waitForRedis, type RedisRole } from './redis-connection.js';

export interface ServiceConnections {
  ds: DataSource;
  redis: Redis;
  checks: Record<string, ReadinessCheck>;
  close(): Promise<void>;
}

/** Postgres (created and migrated if needed) and Redis, as every headless app opens them. */
export async function openServiceConnections(env: Env, role: RedisRole, onMigrated?: (applied: string[]) => void, db: DatabaseIdentity = {}): Promise<ServiceConnections> {
  const ds = await openDatabase({ url: env.DATABASE_URL, migrate: env.DB_MIGRATE_ON_START, poolSize: 5, onMigrated, ...db });
  const redis = createRedis(env.REDIS_URL, role);
  try {
    await waitForRedis(redis, env.REDIS_URL);
  } catch (err) {
    redis.disconnect();
    await ds.destroy();
    throw err;
  }
  return {
    ds,
    redis,
    checks: {
      postgres: async () => void (await ds.query('SELECT 1')),
      redis: async () => void (await redis.ping()),
    },
    async close() {
      redis.disconnect();
      if (ds.isInitialized) await ds.destroy();
    },
  };
}
