import { envForChild, freePort, isolatedResources, startAppProcess, waitForHttpOk, type AppProcess, type IsolatedResources } from '@medfusion/testing';

/** Every app starts with one command, reports live and ready, and exits 0 on SIGTERM. */
const APPS = [
  { app: 'api-gateway', portVar: 'GATEWAY_PORT' },
  { app: 'scheduler', portVar: 'SCHEDULER_HEALTH_PORT' },
  { app: 'gpu-worker', portVar: 'GPU_WORKER_HEALTH_PORT' },
  { app: 'export-worker', portVar: 'EXPORT_WORKER_HEALTH_PORT' },
] as const;

describe('app lifecycle (real processes)', () => {
  let resources: IsolatedResources;
  const started: AppProcess[] = [];

  beforeAll(async () => {
    resources = await isolatedResources();
  });
  afterAll(async () => {
    started.forEach((p) => p.kill());
    await resources.cleanup();
  });

  it.each(APPS)('$app: live, ready, and a clean exit on SIGTERM', async ({ app, portVar }) => {
    const port = await freePort();
    const proc = startAppProcess(app, envForChild(resources, { [portVar]: String(port), SHUTDOWN_TIMEOUT_MS: '10000' }));
    started.push(proc);
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, proc);
    const live = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(live.status).toBe(200);
    const ready = (await (await fetch(`http://127.0.0.1:${port}/health/ready`)).json()) as { checks: Record<string, { status: string }> };
    expect(JSON.stringify(ready.checks)).not.toContain('"error"');

    proc.proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toMatch(/shutting down/);
  });

  it('a bad environment fails fast with a message naming the variable', async () => {
    const proc = startAppProcess('scheduler', envForChild(resources, { REDIS_URL: 'http://nope', RECONCILE_INTERVAL_MS: '5' }));
    started.push(proc);
    expect(await proc.exited).not.toBe(0);
    expect(proc.output()).toMatch(/REDIS_URL/);
    expect(proc.output()).toMatch(/RECONCILE_INTERVAL_MS/);
  });
});
