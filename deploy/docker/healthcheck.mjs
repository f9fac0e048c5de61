#!/usr/bin/env node
// Container health check (Dockerfile HEALTHCHECK, docker-compose healthcheck): readiness of the app
// named by MEDFUSION_APP, on the port it reads from the same environment. Exit 0 healthy, 1 not,
// 2 misconfigured. Resolves the built workspace libs from /app/node_modules like the apps do.
import { loadEnv } from '@medfusion/config';
import { HEALTH_PATHS } from '@medfusion/runtime';

const PORT_VARIABLE = {
  'api-gateway': 'GATEWAY_PORT',
  scheduler: 'SCHEDULER_HEALTH_PORT',
  'gpu-worker': 'GPU_WORKER_HEALTH_PORT',
  'export-worker': 'EXPORT_WORKER_HEALTH_PORT',
};

const app = process.env.MEDFUSION_APP ?? '';
const variable = PORT_VARIABLE[app];
if (!variable) {
  console.error(`healthcheck: MEDFUSION_APP is "${app}", expected one of ${Object.keys(PORT_VARIABLE).join(', ')}`);
  process.exit(2);
}
let env;
try {
  env = loadEnv();
} catch (err) {
  console.error(`healthcheck: ${err.message}`);
  process.exit(2);
}
const url = `http://127.0.0.1:${env[variable]}${HEALTH_PATHS.ready}`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (res.ok) process.exit(0);
  console.error(`healthcheck: ${url} answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
} catch (err) {
  console.error(`healthcheck: ${url}: ${err.message}`);
}
process.exit(1);
