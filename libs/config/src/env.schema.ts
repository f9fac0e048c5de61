import { resolve } from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

/**
 * Every environment variable MedFusion reads, with defaults that work on a developer machine
 * (local Postgres and Redis, ./var for artifacts). README "Configuration" lists the same table;
 * keep them in step.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/medfusion'),
  /** Run pending migrations when an app starts (under an advisory lock, so several apps may race). */
  DB_MIGRATE_ON_START: bool.default(true),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key MedFusion writes (BullMQ queues and the event bus). */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('medfusion'),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** api-gateway HTTP port (REST, OpenAPI, Socket.IO, health). */
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Health port of the headless apps (liveness /health/live, readiness /health/ready). */
  SCHEDULER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  /**
   * Bearer token the scheduler's GET /metrics/queue requires (KEDA sends it through a
   * TriggerAuthentication); unset, the route answers anyone who reaches the health port.
   */
  QUEUE_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  GPU_WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(3002),
  EXPORT_WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(3003),
  /**
   * How often the gateway re-checks the API keys of its live Socket.IO connections (revoked keys are
   * disconnected, changed ones re-checked against their rooms). Revocations are also signalled over
   * Redis at once; this is the fallback for a missed signal.
   */
  SOCKET_AUTH_RECHECK_MS: z.coerce.number().int().min(100).default(30_000),
  /** Largest accepted request body, in bytes. */
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(1024 ** 3).default(1024 * 1024),
  /** An admin API key created at start if absent (at least 32 characters). */
  BOOTSTRAP_ADMIN_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  ARTIFACTS_DIR: z.string().min(1).default('./var/artifacts'),
  /**
   * Folders that user-given paths (a dataset's `dataPath`, `modelConfig.weightsPath`) must lie
   * under, symbolic links resolved: comma- or colon-separated. The uploads folder
   * (<ARTIFACTS_DIR>/datasets) is always added; see dataRoots.
   */
  DATA_ROOTS: z
    .string()
    .default('./var/datasets')
    .transform((v) => v.split(/[,:]/).map((p) => p.trim()).filter((p) => p !== ''))
    .pipe(z.array(z.string()).min(1, 'must name at least one folder')),
  /** Largest dataset archive `POST /datasets/upload` accepts (413 above it); streamed to disk, never held in memory. */
  DATASET_UPLOAD_LIMIT_BYTES: z.coerce.number().int().min(1024).max(2 ** 50).default(2 * 1024 ** 3),
  /** Most bytes an uploaded archive may unpack to (stops zip and tar bombs; 413 above it). */
  DATASET_EXTRACTED_LIMIT_BYTES: z.coerce.number().int().min(1024).max(2 ** 50).default(8 * 1024 ** 3),
  /** Most entries (files and folders) an uploaded archive may hold. */
  DATASET_MAX_ENTRIES: z.coerce.number().int().min(1).max(10_000_000).default(200_000),
  /**
   * Most bytes an uploaded archive may unpack to per byte of archive (zip and tar bombs; 413 above
   * it, refused from the zip's declared sizes before anything is written). Archives unpacking to at
   * most 16 MiB are exempt. Image data sets compress little; 100 leaves text-heavy ones room.
   */
  DATASET_MAX_COMPRESSION_RATIO: z.coerce.number().min(2).max(100_000).default(100),
  /** Longest unpacking an uploaded archive may take before it is stopped (422). */
  DATASET_UNPACK_TIMEOUT_MS: z.coerce.number().int().min(10).max(24 * 3600 * 1000).default(300_000),
  /** Training jobs one gpu-worker runs at once: one per GPU it may use (CUDA_VISIBLE_DEVICES). */
  GPU_WORKER_DEVICES: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * TF.js backend: `auto` picks tensorflow-gpu, then tensorflow, then onnx-cpu (native kernels from
   * onnxruntime-node), then the pure-JS cpu backend.
   */
  COMPUTE_BACKEND: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'onnx-cpu', 'cpu']).default('auto'),
  /** CPU threads one training job's kernels use (onnx-cpu); default: cores / GPU_WORKER_DEVICES, at least 1. */
  COMPUTE_THREADS: z.coerce.number().int().min(1).max(256).optional(),
  /** Name of this worker in job records; defaults to host:pid. */
  WORKER_ID: z.string().min(1).max(200).optional(),
  /**
   * How long a training job's queue lock lasts without renewal; a worker that dies (SIGKILL, node
   * lost) gives its job to another worker about this long after its last renewal.
   */
  TRAINING_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(60_000),
  /** How often workers look for training jobs whose lock expired. */
  TRAINING_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(30_000),
  /** How often a gpu-worker proves its slots alive in Postgres and reads what the scheduler gave them. */
  WORKER_HEARTBEAT_MS: z.coerce.number().int().min(100).default(2000),
  /**
   * A worker slot without a heartbeat for this long is dead: the scheduler removes it, repairs its
   * gang and queues its single job again (so a killed worker's job restarts elsewhere within about
   * this long plus GANG_SCHEDULE_INTERVAL_MS, instead of TRAINING_LOCK_DURATION_MS + the stalled check).
   */
  WORKER_HEARTBEAT_TTL_MS: z.coerce.number().int().min(500).default(12_000),
  /**
   * Scheduler: queue a dead worker's single jobs again as soon as its heartbeat lapses. Off, only
   * the queue lock's expiry hands them on (the reference path of bench/worker-recovery.mjs).
   */
  REQUEUE_ON_HEARTBEAT_LOSS: bool.default(true),
  /**
   * gpu-worker: how long a database write that failed on a lost connection (a terminated backend,
   * a failover, a pooler restart) is retried, with backoff, before the job is handed back to the
   * queue to resume from its last checkpoint. Never a reason to fail the job.
   */
  DB_RETRY_MAX_MS: z.coerce.number().int().min(0).default(30_000),
  /** How often the scheduler admits waiting multi-worker jobs (gangs) onto free worker slots. */
  GANG_SCHEDULE_INTERVAL_MS: z.coerce.number().int().min(100).default(1000),
  /** A gang that has waited this long gets every slot that frees up held for it (single jobs stop taking them). */
  GANG_RESERVE_AFTER_MS: z.coerce.number().int().min(0).default(30_000),
  /** Slots held for a gang that still lacks some after this long are released for other jobs; the gang waits again. */
  GANG_RESERVATION_TIMEOUT_MS: z.coerce.number().int().min(1000).default(300_000),
  /** How often a gang that lost a rank is started again from its last checkpoint before the job fails. */
  GANG_MAX_RESTARTS: z.coerce.number().int().min(0).max(1000).default(3),
  /** Address other ranks reach this worker's collective servers at (a pod IP); default: the first non-loopback IPv4. */
  COLLECTIVE_ADVERTISE_HOST: z.string().min(1).optional(),
  /** Interface a rank's collective (gRPC) server binds. */
  COLLECTIVE_BIND_HOST: z.string().min(1).default('0.0.0.0'),
  /** Port of slot 0's collective server (slot s listens on COLLECTIVE_PORT + s); 0 picks a free port per rank. */
  COLLECTIVE_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Port of slot 0's all-reduce data connection listener (slot s: + s); 0 picks a free port per rank. */
  COLLECTIVE_DATA_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Longest one gradient all-reduce may wait for the other ranks (rank 0 validates at each epoch's end meanwhile). */
  COLLECTIVE_DEADLINE_MS: z.coerce.number().int().min(100).max(3_600_000).default(120_000),
  /** Longest a rank waits for its gang's other ranks to start listening and answer. */
  COLLECTIVE_JOIN_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(120_000),
  /** Largest all-reduce message (a multiple of 4); the same on every worker. */
  COLLECTIVE_BUCKET_BYTES: z.coerce.number().int().min(4).max(256 << 20).default(4 << 20),
  /** How often the scheduler re-adds queued jobs that Redis lost. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1000).default(30_000),
  /** Longest an app waits for in-flight work when asked to stop. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** How long an Idempotency-Key is remembered. */
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 365).default(24),
  /**
   * After how long a key still `in_progress` (its request died with its gateway before committing)
   * may be taken over by a retry. What such a request created was rolled back with it.
   */
  IDEMPOTENCY_STALE_SECONDS: z.coerce.number().int().min(1).max(24 * 3600).default(300),
});

export type Env = z.infer<typeof envSchema>;

/** Threads per training job: COMPUTE_THREADS, else the cores shared evenly by the worker's job slots. */
export function computeThreads(env: Pick<Env, 'COMPUTE_THREADS' | 'GPU_WORKER_DEVICES'>, cores: number): number {
  return env.COMPUTE_THREADS ?? Math.max(1, Math.floor(cores / env.GPU_WORKER_DEVICES));
}

/**
 * Where uploaded datasets are unpacked (the artifact store's `datasets/` prefix, as
 * apps/api-gateway's uploadedDatasetKey writes them): always a data root.
 */
export function uploadsRoot(env: Pick<Env, 'ARTIFACTS_DIR'>): string {
  return resolve(env.ARTIFACTS_DIR, 'datasets');
}

/**
 * The folders user-given paths must lie under: the uploads folder, then DATA_ROOTS, each made
 * absolute against the working directory (as the apps resolve ARTIFACTS_DIR), without repeats.
 */
export function dataRoots(env: Pick<Env, 'ARTIFACTS_DIR' | 'DATA_ROOTS'>): string[] {
  return [...new Set([uploadsRoot(env), ...env.DATA_ROOTS.map((r) => resolve(r))])];
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/** Validates the environment once at boot; the message lists every bad variable and why. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
