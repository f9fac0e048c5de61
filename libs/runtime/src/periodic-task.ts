import type { Logger } from './logger.js';

export interface PeriodicTask {
  /** Stops scheduling and waits for a pass in progress to finish. */
  stop(): Promise<void>;
  /** Runs a pass now (after any pass in progress) and resolves when it is done. */
  runNow(): Promise<void>;
}

/**
 * Runs `pass` at once and then every `intervalMs`, never two passes at a time. A failing pass is
 * logged with its error and the next one runs on schedule.
 */
export function startPeriodicTask(name: string, intervalMs: number, logger: Logger, pass: () => Promise<void>): PeriodicTask {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const runOnce = (): Promise<void> => {
    running = running.then(async () => {
      try {
        await pass();
      } catch (err) {
        logger.error({ err, task: name }, `${name} failed; retrying in ${intervalMs} ms`);
      }
    });
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void runOnce().then(schedule), intervalMs);
  };
  void runOnce().then(schedule);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runNow: runOnce,
  };
}
