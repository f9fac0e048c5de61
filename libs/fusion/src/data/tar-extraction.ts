import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ArchiveError, allClosed, byteCounter, makeFolder, safeEntryPath, writeEntryFile, type ExtractionBudget } from './archive-entry-policy.js';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Unpacks a .tar or a gzipped one (.tar.gz/.tgz) into `dest`, entry by entry: only files and
 * folders, each path checked before anything is written. node-tar's Parser is used rather than its
 * extractor so that links and devices are refused with the entry's name instead of being created
 * or silently dropped. A gzipped archive is first refused if its gzip trailer declares too much for
 * the compression ratio; then the decompressed stream is counted as it flows (the trailer can lie
 * and holds the size modulo 4 GiB only). On error, what was written stays for the caller to
 * remove, but nothing is open or still being written when this settles.
 */
export async function extractTar(archive: string, dest: string, budget: ExtractionBudget, signal: AbortSignal, gzipped: boolean): Promise<void> {
  if (gzipped) await checkGzipTrailer(archive, budget, signal);
  // Decompressed here, not by node-tar, so that every decompressed byte is counted against the ratio.
  const parser = new Parser({ strict: true, brotli: false, zstd: false });
  let current: string | undefined;
  const count = byteCounter((bytes) => budget.addStreamBytes(bytes, current));
  const input = createReadStream(archive);
  const streams: Readable[] = gzipped ? [input, createGunzip(), count] : [input, count];
  // One entry at a time: the parser waits while an entry is not read, so a tar of many small files never has more than one file open.
  let unpacking = Promise.resolve();
  // The bodies being written: a broken archive cuts one off without ending it, so they are destroyed on error.
  const bodies = new Set<PassThrough>();
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    for (const s of streams) s.destroy();
    parser.abort(err instanceof Error ? err : new Error(String(err)));
  };
  const onDeadline = () => fail(signal.reason);
  signal.addEventListener('abort', onDeadline, { once: true });

  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('entry', (entry: ReadEntry) => {
      current = entry.path;
      unpacking = unpacking.then(() =>
        failure === undefined
          ? unpackEntry(entry, dest, budget, bodies, signal).catch((err: unknown) => {
              entry.resume();
              fail(err);
            })
          : void entry.resume(),
      );
    });
    parser.on('error', (err: Error) => {
      const reason = failure ?? corrupt(err);
      reject(reason);
      // With an error: a body that has ended but was never read, destroyed without one, leaves stream.pipeline waiting forever.
      for (const body of bodies) body.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    });
    parser.on('end', () => resolve());
    input.on('error', (err) => fail(new ArchiveError('ARCHIVE_CORRUPT', `cannot be read: ${err.message}`)));
    for (const s of streams.slice(1)) s.on('error', (err) => fail(err instanceof ArchiveError ? err : corrupt(err)));
  });
  let tail: Readable = input;
  for (const next of streams.slice(1)) tail = tail.pipe(next as Transform);
  tail.pipe(parser);
  try {
    if (signal.aborted) fail(signal.reason);
    await parsed;
  } finally {
    signal.removeEventListener('abort', onDeadline);
    // Let every started write settle and the archive close, so nothing lands in `dest` or holds it after the caller removes it.
    await unpacking;
    if (failure) for (const s of streams) s.destroy();
    await allClosed(streams);
  }
  if (failure) throw failure;
}

/**
 * Refuses a gzipped archive that declares more than the ratio allows, before anything is written.
 * gzip's only declared size is its trailer's last four bytes (the uncompressed size modulo 2^32),
 * which in a truncated file are just data: so a trailer over the limit is confirmed by
 * decompressing, counting and discarding, up to the limit, and only a stream that really gets there
 * is refused here; anything else is left to the unpacking pass, which counts again.
 */
async function checkGzipTrailer(archive: string, budget: ExtractionBudget, signal: AbortSignal): Promise<void> {
  const fh = await open(archive, 'r');
  let declared: number;
  try {
    const { size } = await fh.stat();
    if (size < 18) return;
    const tail = Buffer.alloc(4);
    await fh.read(tail, 0, 4, size - 4);
    declared = tail.readUInt32LE(0);
  } finally {
    await fh.close();
  }
  if (declared <= budget.ratioCap) return;
  if (await decompressesPast(archive, budget.ratioCap, signal)) throw budget.ratioError(`declares ${declared} unpacked bytes in its gzip trailer`);
}

/** Whether the gzip stream in `archive` decompresses to more than `limit` bytes; reads only that far. */
async function decompressesPast(archive: string, limit: number, signal: AbortSignal): Promise<boolean> {
  const input = createReadStream(archive);
  const gunzip = createGunzip();
  let seen = 0;
  let settle: (past: boolean) => void = () => undefined;
  const onDeadline = () => settle(false);
  const past = await new Promise<boolean>((resolve) => {
    settle = resolve;
    gunzip.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) resolve(true);
    });
    gunzip.on('end', () => resolve(false));
    // A broken stream is reported by the unpacking pass, with the entry it breaks in.
    gunzip.on('error', () => resolve(false));
    input.on('error', () => resolve(false));
    signal.addEventListener('abort', onDeadline, { once: true });
    input.pipe(gunzip);
  });
  signal.removeEventListener('abort', onDeadline);
  input.destroy();
  gunzip.destroy();
  await allClosed([input, gunzip]);
  signal.throwIfAborted();
  return past;
}

async function unpackEntry(entry: ReadEntry, dest: string, budget: ExtractionBudget, bodies: Set<PassThrough>, signal: AbortSignal): Promise<void> {
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
    await makeFolder(join(dest, rel), name);
    return;
  }
  // Through a Node stream: node-tar's entry is a Minipass stream, which stream.pipeline does not close.
  const body = new PassThrough();
  // The body may be destroyed with the archive's error before writeEntryFile's pipeline listens; that pipeline reports it.
  body.on('error', () => undefined);
  bodies.add(body);
  entry.pipe(body);
  try {
    await writeEntryFile(body, join(dest, rel), budget, name, signal);
  } finally {
    bodies.delete(body);
  }
}

function corrupt(err: Error): ArchiveError {
  return new ArchiveError('ARCHIVE_CORRUPT', `is not a readable tar archive: ${err.message}`);
}
