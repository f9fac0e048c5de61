import { onShutdownSignal } from './graceful-shutdown.js';
import { startHealthServer, type HealthRoute, type ReadinessCheck } from './health-server.js';
import type { Logger } from './logger.js';
import { prototypeIntegrityCheck } from './prototype-integrity.js';

export interface StartedService {
  /** Readiness checks of the dependencies the service needs (Postgres, Redis...). */
  checks: Record<string, ReadinessCheck>;
  /** Finishes or hands back in-flight work, then closes connections. */
  stop(): Promise<void>;
  /** Extra GET routes served on the health port once the service has started (path -> handler). */
  routes?: Record<string, HealthRoute>;
}

export interface HeadlessAppOptions {
  name: string;
  host: string;
  healthPort: number;
  shutdownTimeoutMs: number;
  logger: Logger;
  start(): Promise<StartedService>;
}

/**
 * Lifecycle shared by the scheduler and the workers: liveness at once, readiness once `start`
 * resolves and while its checks pass and no shared prototype changed since, and a bounded graceful stop on SIGTERM/SIGINT (readiness
 * turns false first). A failed start exits with status 1 and the reason in the log.
 */
export async function runHeadlessApp(opts: HeadlessAppOptions): Promise<void> {
  const { logger } = opts;
  let service: StartedService | undefined;
  let prototypes: ReadinessCheck | undefined;
  const routes = new Map<string, HealthRoute>();
  const health = await startHealthServer(opts.host, opts.healthPort, {
    started: async () => {
      if (!service) throw new Error('starting');
    },
    prototypes: async () => prototypes?.(),
    dependencies: async () => {
      if (!service) return;
      const failures: string[] = [];
      await Promise.all(
        Object.entries(service.checks).map(([name, check]) => check().catch((err: Error) => failures.push(`${name}: ${err.message}`))),
      );
      if (failures.length) throw new Error(failures.join('; '));
    },
  }, routes);
  onShutdownSignal(logger, opts.shutdownTimeoutMs, async () => {
    health.setShuttingDown();
    await service?.stop();
    await health.close();
  });
  try {
    service = await opts.start();
    prototypes = prototypeIntegrityCheck();
    for (const [path, route] of Object.entries(service.routes ?? {})) routes.set(path, route);
  } catch (err) {
    logger.fatal({ err }, `${opts.name} failed to start`);
    process.exit(1);
  }
  logger.info({ healthPort: health.port }, `${opts.name} ready`);
}
