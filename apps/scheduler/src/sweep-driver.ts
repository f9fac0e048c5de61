import type { Env } from '@medfusion/config';
import { SweepRepository, TrainingJobRepository } from '@medfusion/persistence';
import {
  createRedis,
  subscribeSweepChannels,
  subscribeTrainingEvents,
  SweepEventPublisher,
  TrainingControlRequester,
  waitForRedis,
  type ServiceConnections,
  type TrainingQueue,
} from '@medfusion/queue';
import { startPeriodicTask, type Logger } from '@medfusion/runtime';
import { SweepDriver } from '@medfusion/sweeps';

export interface RunningSweepDriver {
  stop(): Promise<void>;
}

/**
 * Runs the sweep driver in the scheduler. Passes are triggered by the workers' epoch and status
 * events (latency) and by the gateway's wake-ups (a sweep created, stopped or given a trial), and a
 * periodic pass over every active sweep is the safety net: a restart or a missed message never
 * loses a trial, because the driver decides from the rows alone.
 */
export async function startSweepDriver(env: Env, conn: ServiceConnections, queue: TrainingQueue, logger: Logger): Promise<RunningSweepDriver> {
  const log = logger.child({ component: 'sweep-driver' });
  const jobs = new TrainingJobRepository(conn.ds);
  const driver = new SweepDriver({
    sweeps: new SweepRepository(conn.ds),
    queue,
    controls: new TrainingControlRequester(jobs, queue, conn.redis, env.REDIS_PREFIX, log),
    events: new SweepEventPublisher(conn.redis, env.REDIS_PREFIX),
    logger: log,
  });
  const drive = (what: Promise<void>, context: Record<string, unknown>) =>
    what.catch((err: unknown) => log.error({ err, ...context }, 'sweep pass failed; the next pass retries'));

  const subscriber = createRedis(env.REDIS_URL, 'subscriber');
  await waitForRedis(subscriber, env.REDIS_URL);
  await subscribeTrainingEvents(
    subscriber,
    env.REDIS_PREFIX,
    (e) => {
      if (e.type === 'epoch' || e.type === 'status') void drive(driver.onTrainingJobEvent(e.jobId), { jobId: e.jobId });
    },
    (err, raw) => log.warn({ err, raw: raw.slice(0, 200) }, 'dropped a malformed training event'),
  );
  await subscribeSweepChannels(subscriber, env.REDIS_PREFIX, {
    onWake: (sweepId) => void drive(driver.drive(sweepId), { sweepId }),
    onInvalid: (err, raw) => log.warn({ err, raw: raw.slice(0, 200) }, 'dropped a malformed sweep wake-up'),
  });

  const reconciler = startPeriodicTask('sweep reconciler', env.RECONCILE_INTERVAL_MS, log, async () => {
    const report = await driver.reconcileAll();
    if (report.failed.length) log.warn({ failed: report.failed }, 'some sweeps could not be driven this pass');
  });
  return {
    async stop() {
      subscriber.disconnect();
      await reconciler.stop();
      // Passes started by events finish before the connections close.
      await driver.settle();
    },
  };
}
