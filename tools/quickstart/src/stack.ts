import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const APPS = ['api-gateway', 'scheduler', 'gpu-worker', 'export-worker'] as const;

export interface Stack {
  logDir: string;
  stop(): Promise<void>;
  /** Rejects as soon as any app exits while the stack should be running. */
  crashed: Promise<never>;
}

/**
 * Starts every app as a child process with its log in `<logDir>/<app>.log`; with `gpuWorkers` > 1,
 * that many gpu-workers (logs `gpu-worker-<i>.log`), sharing the machine's cores, so a
 * multi-worker job can gang them.
 */
export function startStack(root: string, env: NodeJS.ProcessEnv, logDir: string, options: { gpuWorkers?: number; cores?: number } = {}): Stack {
  mkdirSync(logDir, { recursive: true });
  let stopping = false;
  let onCrash: (err: Error) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => (onCrash = reject));
  crashed.catch(() => undefined);
  const gpuWorkers = options.gpuWorkers ?? 1;
  const instances = APPS.flatMap((app): Array<{ app: string; name: string; env: Record<string, string> }> =>
    app === 'gpu-worker' && gpuWorkers > 1
      ? Array.from({ length: gpuWorkers }, (_, i) => ({
          app,
          name: `gpu-worker-${i}`,
          env: {
            WORKER_ID: `quickstart-gpu-worker-${i}`,
            // 3002 is the first worker's health port; 3003 is the export-worker's.
            GPU_WORKER_HEALTH_PORT: String(i === 0 ? 3002 : 3010 + i),
            COMPUTE_THREADS: String(Math.max(1, Math.floor((options.cores ?? 1) / gpuWorkers))),
            COLLECTIVE_ADVERTISE_HOST: '127.0.0.1',
          },
        }))
      : [{ app, name: app, env: {} }],
  );
  const children: ChildProcess[] = instances.map(({ app, name, env: extra }) => {
    const log = createWriteStream(join(logDir, `${name}.log`));
    const child = spawn(process.execPath, [join(root, 'apps', app, 'dist', 'main.js')], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    child.once('exit', (code, signal) => {
      if (!stopping) onCrash(new Error(`${name} exited (${code ?? signal}); see ${join(logDir, `${name}.log`)}`));
    });
    return child;
  });
  return {
    logDir,
    crashed,
    async stop() {
      stopping = true;
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
