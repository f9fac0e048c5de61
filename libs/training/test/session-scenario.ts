import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./fixtures/session-scenarios.mjs', import.meta.url));

/**
 * Runs one scenario of fixtures/session-scenarios.mjs in a plain Node process (TF.js trains far
 * slower inside Jest's VM sandbox) against the built dist, and returns the JSON it prints.
 */
export function scenario<T = any>(name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, name], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name} failed: ${err.message}\n${stderr}`));
      const marker = stdout.lastIndexOf('@@RESULT@@');
      if (marker < 0) return reject(new Error(`${name} printed no result:\n${stdout}\n${stderr}`));
      resolve(JSON.parse(stdout.slice(marker + '@@RESULT@@'.length)) as T);
    });
  });
}
