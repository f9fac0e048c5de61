import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { ArchiveError, safeEntryPath, writeEntryFile, type ExtractionBudget } from './archive-entry-policy.js';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Unpacks a .tar, .tar.gz or .tgz (gzip is recognised from its bytes) into `dest`, entry by entry:
 * only files and folders, each path checked before anything is written. node-tar's Parser is used
 * rather than its extractor so that links and devices are refused with the entry's name instead of
 * being created or silently dropped. On error, what was written stays for the caller to remove.
 */
export async function extractTar(archive: string, dest: string, budget: ExtractionBudget): Promise<void> {
  const parser = new Parser({ strict: true });
  const input = createReadStream(archive);
  const writes: Promise<void>[] = [];
  // The bodies being written: a broken archive cuts one off without ending it, so they are destroyed on error.
  const bodies = new Set<PassThrough>();
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    input.destroy();
    parser.abort(err instanceof Error ? err : new Error(String(err)));
  };

  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('entry', (entry: ReadEntry) => {
      writes.push(
        unpackEntry(entry, dest, budget, bodies).catch((err: unknown) => {
          entry.resume();
          fail(err);
        }),
      );
    });
    parser.on('error', (err: Error) => {
      reject(failure ?? corrupt(err));
      // Without an error: the writer may not be listening yet, and the archive error is already reported.
      for (const body of bodies) body.destroy();
    });
    parser.on('end', () => resolve());
    input.on('error', (err) => reject(new ArchiveError('ARCHIVE_CORRUPT', `cannot be read: ${err.message}`)));
  });
  input.pipe(parser);
  try {
    await parsed;
  } finally {
    // Let every started write settle, so nothing lands in `dest` after the caller removes it.
    await Promise.allSettled(writes);
  }
  if (failure) throw failure;
}

async function unpackEntry(entry: ReadEntry, dest: string, budget: ExtractionBudget, bodies: Set<PassThrough>): Promise<void> {
  const name = entry.path;
  budget.countEntry(name);
  if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
    const kind = entry.type === 'Link' ? 'a hard link' : 'a symbolic link';
    throw new ArchiveError('ENTRY_UNSAFE', `is ${kind} to "${entry.linkpath ?? ''}"; archives may hold only files and folders`, name);
  }
  if (entry.type !== 'Directory' && !FILE_TYPES.has(entry.type)) {
    throw new ArchiveError('ENTRY_UNSAFE', `is a ${entry.type} entry; archives may hold only files and folders`, name);
  }
  const rel = safeEntryPath(name);
  if (rel === undefined) {
    entry.resume();
    return;
  }
  if (entry.type === 'Directory') {
    entry.resume();
    await mkdir(join(dest, rel), { recursive: true });
    return;
  }
  // Through a Node stream: node-tar's entry never settles a pending `for await` when the archive breaks off.
  const body = new PassThrough();
  bodies.add(body);
  entry.pipe(body);
  try {
    await writeEntryFile(body, join(dest, rel), budget, name);
  } finally {
    bodies.delete(body);
  }
}

function corrupt(err: Error): ArchiveError {
  if (/max decompression ratio exceeded/.test(err.message)) {
    return new ArchiveError('TOO_LARGE', `decompresses far more than it weighs (${err.message}); is it a compression bomb?`);
  }
  return new ArchiveError('ARCHIVE_CORRUPT', `is not a readable tar archive: ${err.message}`);
}
