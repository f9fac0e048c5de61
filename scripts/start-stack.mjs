#!/usr/bin/env node
// Starts the whole stack on one machine (gateway, scheduler, gpu-worker, export-worker) against
// the Postgres and Redis in the environment (local defaults), with a development admin key.
// Ctrl-C (or SIGTERM) stops every app gracefully. Run `npm run build` first (`npm start` does).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const DEV_KEY = 'dev-admin-key-change-me-0123456789abcdef';
const env = { ...process.env, BOOTSTRAP_ADMIN_KEY: process.env.BOOTSTRAP_ADMIN_KEY ?? DEV_KEY };
const apps = ['api-gateway', 'scheduler', 'gpu-worker', 'export-worker'];

const children = apps.map((app) => {
  const child = spawn(process.execPath, [`${root}apps/${app}/dist/main.js`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${app} exited (${code ?? signal}); stopping the stack`);
      stop(1);
    }
  });
  return child;
});

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(() => process.exit(code));
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const port = process.env.GATEWAY_PORT ?? '3000';
console.error(`\nMedFusion: http://localhost:${port}/api/v1  docs: http://localhost:${port}/api/docs  admin key: ${env.BOOTSTRAP_ADMIN_KEY === DEV_KEY ? DEV_KEY : '(BOOTSTRAP_ADMIN_KEY)'}\n`);
