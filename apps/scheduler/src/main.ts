import { loadEnv } from '@medfusion/config';
import { GangRepository, purgeExpiredIdempotencyKeys, TrainingJobRepository, TrainingRunRepository } from '@medfusion/persistence';
import { GangScheduler, openServiceConnections, reconcileTrainingQueue, requeueOrphanedRuns, TrainingEventPublisher, TrainingQueue } from '@medfusion/queue';
import { createLogger, runHeadlessApp, startPeriodicTask } from '@medfusion/runtime';
import { startSweepDriver } from './sweep-driver.js';
import { QUEUE_METRICS_PATH, queueMetricsRoute } from './queue-metrics.js';

const env = loadEnv();
const logger = createLogger('scheduler', env.LOG_LEVEL);
const HOUR_MS = 3_600_000;

/**
 * The scheduler keeps Redis in step with Postgres and drives sweeps: at start and every RECONCILE_INTERVAL_MS it
 * re-adds queued training jobs that Redis lost and passes over active sweeps (sweep-driver.ts);
 * every GANG_SCHEDULE_INTERVAL_MS it admits multi-worker jobs onto free worker slots and repairs
 * gangs that lost a rank (libs/queue gang-scheduler.ts), and queues the single jobs of workers that
 * stopped heartbeating again (orphan-requeue.ts); hourly it forgets expired Idempotency-Keys.
 */
await runHeadlessApp({
  name: 'scheduler',
  host: env.HOST,
  healthPort: env.SCHEDULER_HEALTH_PORT,
  shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  logger,
  async start() {
    const conn = await openServiceConnections(env, 'producer', (applied) => logger.info({ applied }, 'database migrated'), {
      applicationName: 'medfusion-scheduler',
      onConnectionError: (err) => logger.warn({ err }, 'postgres connection lost; the pool reconnects'),
    });
    const queue = new TrainingQueue(conn.redis, env.REDIS_PREFIX);
    const jobs = new TrainingJobRepository(conn.ds);
    const reconciler = startPeriodicTask('training queue reconciler', env.RECONCILE_INTERVAL_MS, logger, async () => {
      const report = await reconcileTrainingQueue(jobs, queue);
      if (report.readded.length) logger.warn({ readded: report.readded, checked: report.checked }, 're-added queued training jobs missing from Redis');
      else logger.debug({ checked: report.checked }, 'training queue in step with the database');
    });
    const gangScheduler = new GangScheduler({
      gangs: new GangRepository(conn.ds),
      events: new TrainingEventPublisher(conn.redis, env.REDIS_PREFIX),
      logger: logger.child({ component: 'gang-scheduler' }),
      settings: {
        heartbeatTtlMs: env.WORKER_HEARTBEAT_TTL_MS,
        reserveAfterMs: env.GANG_RESERVE_AFTER_MS,
        reservationTimeoutMs: env.GANG_RESERVATION_TIMEOUT_MS,
        maxRestarts: env.GANG_MAX_RESTARTS,
      },
    });
    const gangs = startPeriodicTask('gang scheduler', env.GANG_SCHEDULE_INTERVAL_MS, logger, async () => {
      await gangScheduler.pass();
    });
    const runs = new TrainingRunRepository(conn.ds, { heartbeatTtlMs: env.WORKER_HEARTBEAT_TTL_MS });
    const events = new TrainingEventPublisher(conn.redis, env.REDIS_PREFIX);
    const requeuer = env.REQUEUE_ON_HEARTBEAT_LOSS
      ? startPeriodicTask('dead worker requeue', env.GANG_SCHEDULE_INTERVAL_MS, logger, async () => {
          await requeueOrphanedRuns({ runs, queue, events, logger });
        })
      : undefined;
    const purger = startPeriodicTask('idempotency key purge', HOUR_MS, logger, async () => {
      const purged = await purgeExpiredIdempotencyKeys(conn.ds, env.IDEMPOTENCY_TTL_HOURS);
      if (purged) logger.info({ purged }, 'purged expired idempotency keys');
    });
    const sweeps = await startSweepDriver(env, conn, queue, logger);
    return {
      checks: conn.checks,
      routes: { [QUEUE_METRICS_PATH]: queueMetricsRoute(queue, conn, { token: env.QUEUE_METRICS_TOKEN }) },
      async stop() {
        await Promise.all([reconciler.stop(), gangs.stop(), purger.stop(), sweeps.stop(), requeuer?.stop()]);
        await queue.close();
        await conn.close();
      },
    };
  },
});
