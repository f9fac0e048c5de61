import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadEnv, type Env } from '@medfusion/config';
import { resolveServices } from './services.js';

/** A database and a Redis key prefix that belong to one test file, removed by `cleanup`. */
export interface IsolatedResources {
  env: Env;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  adminKey: string;
  cleanup(): Promise<void>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Gives a test file its own empty database (the apps migrate it at start) and Redis prefix, so
 * files run in parallel and leave nothing behind.
 */
export async function isolatedResources(envOverrides: Record<string, string> = {}): Promise<IsolatedResources> {
  const { postgresUrl, redisUrl } = await resolveServices();
  const id = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const dbName = `mf_test_${id}`;
  const redisPrefix = `mf-test-${id}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const databaseUrl = withDatabase(postgresUrl, dbName);
  const adminKey = `mf_test_admin_${randomBytes(24).toString('hex')}`;
  const env = loadEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: redisPrefix,
    BOOTSTRAP_ADMIN_KEY: adminKey,
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    SCHEDULER_HEALTH_PORT: '0',
    GPU_WORKER_HEALTH_PORT: '0',
    EXPORT_WORKER_HEALTH_PORT: '0',
    ...envOverrides,
  });
  return {
    env,
    databaseUrl,
    redisUrl,
    redisPrefix,
    adminKey,
    async cleanup() {
      await deleteRedisPrefix(redisUrl, redisPrefix);
      const c = new pg.Client({ connectionString: postgresUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Deletes every key under `prefix` (also what a Redis failover without persistence does to it); returns how many. */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/**
 * Env variables for a child process using the same isolated resources. Tests keep their data sets
 * in temporary folders, so the system's temp folder is the apps' data root (DATA_ROOTS) unless
 * `extra` says otherwise.
 */
export function envForChild(r: IsolatedResources, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATA_ROOTS: tmpdir(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: r.databaseUrl,
    REDIS_URL: r.redisUrl,
    REDIS_PREFIX: r.redisPrefix,
    BOOTSTRAP_ADMIN_KEY: r.adminKey,
    HOST: '127.0.0.1',
    ...extra,
  };
}
