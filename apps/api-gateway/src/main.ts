import { loadEnv } from '@medfusion/config';
import { createLogger, onShutdownSignal } from '@medfusion/runtime';
import { createGatewayApp, DOCS_PATH } from './gateway-app.js';

const env = loadEnv();
const logger = createLogger('api-gateway', env.LOG_LEVEL);

try {
  const app = await createGatewayApp(env, logger);
  await app.listen(env.GATEWAY_PORT, env.HOST);
  logger.info({ url: await app.getUrl(), docs: `/${DOCS_PATH}` }, 'api-gateway listening');
  // Nest's own hooks would also handle the signal; ours bounds the drain by SHUTDOWN_TIMEOUT_MS.
  onShutdownSignal(logger, env.SHUTDOWN_TIMEOUT_MS, () => app.close());
} catch (err) {
  logger.fatal({ err }, 'api-gateway failed to start');
  process.exit(1);
}
