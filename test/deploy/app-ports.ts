import type { Env } from '@medfusion/config';

/** The port each app serves its health endpoints on (the gateway: its one HTTP port). */
export const APP_PORT_VAR = {
  'api-gateway': 'GATEWAY_PORT',
  scheduler: 'SCHEDULER_HEALTH_PORT',
  'gpu-worker': 'GPU_WORKER_HEALTH_PORT',
  'export-worker': 'EXPORT_WORKER_HEALTH_PORT',
} as const satisfies Record<string, keyof Env>;
export type App = keyof typeof APP_PORT_VAR;
