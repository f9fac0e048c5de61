import { resolve } from 'node:path';
import { ConfigError, computeThreads, dataRoots, loadEnv } from './env.schema.js';

describe('loadEnv', () => {
  it('has defaults that work on a developer machine', () => {
    const env = loadEnv({});
    expect(env.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/medfusion');
    expect(env.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(env.GATEWAY_PORT).toBe(3000);
    expect(env.BODY_LIMIT_BYTES).toBe(1024 * 1024);
    expect(env.DB_MIGRATE_ON_START).toBe(true);
    expect([env.DATASET_UPLOAD_LIMIT_BYTES, env.DATASET_EXTRACTED_LIMIT_BYTES, env.DATASET_MAX_ENTRIES]).toEqual([2 * 1024 ** 3, 8 * 1024 ** 3, 200_000]);
    expect([env.DATASET_MAX_COMPRESSION_RATIO, env.DATASET_UNPACK_TIMEOUT_MS]).toEqual([100, 300_000]);
  });

  it('coerces numbers and booleans and treats empty strings as unset', () => {
    const env = loadEnv({ GATEWAY_PORT: '8080', DB_MIGRATE_ON_START: 'false', LOG_LEVEL: '' });
    expect(env.GATEWAY_PORT).toBe(8080);
    expect(env.DB_MIGRATE_ON_START).toBe(false);
    expect(env.LOG_LEVEL).toBe('info');
  });

  it('lists every bad variable in one error', () => {
    let error: unknown;
    try {
      loadEnv({ DATABASE_URL: 'mysql://x/y', GATEWAY_PORT: '70000', BOOTSTRAP_ADMIN_KEY: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/DATABASE_URL/);
    expect(message).toMatch(/GATEWAY_PORT/);
    expect(message).toMatch(/BOOTSTRAP_ADMIN_KEY: must be at least 32 characters/);
  });
});

describe('computeThreads', () => {
  it('shares the cores among the job slots unless COMPUTE_THREADS is set, never below 1', () => {
    expect(computeThreads(loadEnv({}), 8)).toBe(8);
    expect(computeThreads(loadEnv({ GPU_WORKER_DEVICES: '3' }), 8)).toBe(2);
    expect(computeThreads(loadEnv({ GPU_WORKER_DEVICES: '4' }), 2)).toBe(1);
    expect(computeThreads(loadEnv({ COMPUTE_THREADS: '3', GPU_WORKER_DEVICES: '4' }), 2)).toBe(3);
  });

  it('accepts onnx-cpu as a backend and rejects a thread count of 0', () => {
    expect(loadEnv({ COMPUTE_BACKEND: 'onnx-cpu' }).COMPUTE_BACKEND).toBe('onnx-cpu');
    expect(() => loadEnv({ COMPUTE_THREADS: '0' })).toThrow(/COMPUTE_THREADS/);
  });
});

describe('dataRoots', () => {
  it('defaults to ./var/datasets plus the uploads folder, made absolute', () => {
    expect(dataRoots(loadEnv({}))).toEqual([resolve('./var/artifacts/datasets'), resolve('./var/datasets')]);
  });

  it('splits DATA_ROOTS on commas and colons and always keeps the uploads folder', () => {
    const env = loadEnv({ DATA_ROOTS: '/data/a, /data/b:/data/c,', ARTIFACTS_DIR: '/srv/artifacts' });
    expect(dataRoots(env)).toEqual(['/srv/artifacts/datasets', '/data/a', '/data/b', '/data/c']);
  });

  it('refuses a DATA_ROOTS that names no folder', () => {
    expect(() => loadEnv({ DATA_ROOTS: ' , :' })).toThrow(/DATA_ROOTS: must name at least one folder/);
  });
});
