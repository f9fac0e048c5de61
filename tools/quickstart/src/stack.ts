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

/** Starts every app as a child process with its log in `<logDir>/<app>.log`. */
export function startStack(root: string, env: NodeJS.ProcessEnv, logDir: string): Stack {
  mkdirSync(logDir, { recursive: true });
  let stopping = false;
  let onCrash: (err: Error) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => (onCrash = reject));
  crashed.catch(() => undefined);
  const children: ChildProcess[] = APPS.map((app) => {
    const log = createWriteStream(join(logDir, `${app}.log`));
    const child = spawn(process.execPath, [join(root, 'apps', app, 'dist', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    child.once('exit', (code, signal) => {
      if (!stopping) onCrash(new Error(`${app} exited (${code ?? signal}); see ${join(logDir, `${app}.log`)}`));
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
