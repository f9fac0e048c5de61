import { existsSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * The files this process holds open under `dir`, deleted ones included (Linux's /proc/self/fd;
 * elsewhere nothing can be seen and the list is empty). Tests use it to prove that a failed
 * upload or unpacking closed every descriptor it opened.
 */
export function openFilesUnder(dir: string): string[] {
  if (!existsSync('/proc/self/fd')) return [];
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) open.push(target);
    } catch {
      // The descriptor readdir itself used, closed by now.
    }
  }
  return open;
}
