import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface AppProcess {
  proc: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
  /** SIGKILL if still running; for cleanup. */
  kill(): void;
}

/**
 * Starts a built app (`apps/<name>/dist/main.js`, so run `npm run build` first) as a real process.
 * The caller must kill or stop it; `kill()` in afterAll/afterEach is enough.
 */
export function startAppProcess(app: string, env: NodeJS.ProcessEnv): AppProcess {
  const proc = spawn(process.execPath, [`${ROOT}apps/${app}/dist/main.js`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    proc,
    output: () => out,
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Waits until `url` answers 200, failing with the process's output if it exits or times out. */
export async function waitForHttpOk(url: string, app: AppProcess, timeoutMs = 20_000): Promise<void> {
  try {
    await waitFor(`${url} to answer 200`, async () => {
      if (app.proc.exitCode !== null) throw new Error(`process exited with ${app.proc.exitCode}`);
      const res = await fetch(url).catch(() => null);
      return res?.status === 200;
    }, timeoutMs, 150);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- process output ---\n${app.output()}`);
  }
}

/** The environment variable each app reads its health (or, for the gateway, HTTP) port from. */
const HEALTH_PORT_VAR: Record<string, string> = {
  'api-gateway': 'GATEWAY_PORT',
  scheduler: 'SCHEDULER_HEALTH_PORT',
  'gpu-worker': 'GPU_WORKER_HEALTH_PORT',
  'export-worker': 'EXPORT_WORKER_HEALTH_PORT',
};

/**
 * Starts a built app on a free health port and waits until it is ready (its output in the error
 * when it is not). `env` is the child's whole environment (e.g. envForChild's). The first step
 * towards one process-test harness (issue #18).
 */
export async function startReadyApp(app: string, env: NodeJS.ProcessEnv): Promise<{ proc: AppProcess; ready: string }> {
  const portVar = HEALTH_PORT_VAR[app];
  if (!portVar) throw new Error(`unknown app "${app}" (one of ${Object.keys(HEALTH_PORT_VAR).join(', ')})`);
  const port = await freePort();
  const proc = startAppProcess(app, { ...env, [portVar]: String(port) });
  const ready = `http://127.0.0.1:${port}/health/ready`;
  await waitForHttpOk(ready, proc);
  return { proc, ready };
}
