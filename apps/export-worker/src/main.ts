import { loadEnv } from '@medfusion/config';
import { openServiceConnections } from '@medfusion/queue';
import { createLogger, runHeadlessApp } from '@medfusion/runtime';

const env = loadEnv();
const logger = createLogger('export-worker', env.LOG_LEVEL);

/**
 * Process shell of the export-worker: connections, health endpoints and graceful shutdown. It does not
 * consume its queue yet; see docs/status.md for what is built and what comes next.
 */
await runHeadlessApp({
  name: 'export-worker',
  host: env.HOST,
  healthPort: env.EXPORT_WORKER_HEALTH_PORT,
  shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  logger,
  async start() {
    const conn = await openServiceConnections(env, 'worker', (applied) => logger.info({ applied }, 'database migrated'), {
      applicationName: 'medfusion-export-worker',
      onConnectionError: (err) => logger.warn({ err }, 'postgres connection lost; the pool reconnects'),
    });
    return { checks: conn.checks, stop: () => conn.close() };
  },
});
