import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Why an archive cannot be unpacked; stable, so callers can map it to a status without parsing messages. */
export type ArchiveErrorCode =
  | 'ARCHIVE_UNSUPPORTED'
  | 'ARCHIVE_CORRUPT'
  | 'ENTRY_UNSAFE'
  | 'TOO_MANY_ENTRIES'
  | 'TOO_LARGE'
  | 'COMPRESSION_RATIO'
  | 'UNPACK_TIMEOUT';

/** An archive refused or broken, naming the entry (its path as written in the archive) when one is at fault. */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
    readonly entry?: string,
  ) {
    super(entry === undefined ? message : `entry "${entry}" ${message}`);
  }
}

export interface ArchiveLimits {
  /** Entries of any kind (files, folders, skipped ones). */
  maxEntries: number;
  /** Bytes written while unpacking, counted as they are written (declared sizes may lie). */
  maxExtractedBytes: number;
  /**
   * Most unpacked bytes per archive byte (zip: the files' bytes; tar.gz: the decompressed tar
   * stream). Archives unpacking to at most COMPRESSION_RATIO_EXEMPT_BYTES are never refused for it.
   */
  maxCompressionRatio: number;
  /** Longest the whole unpacking may take, in milliseconds: past it, everything is stopped and closed. */
  unpackTimeoutMs: number;
}

/**
 * Unpacked bytes any archive may reach whatever its compression ratio: small archives of text
 * (a CSV of repeated values, tar headers and padding) compress far better than image data sets,
 * and a bomb this small does no harm.
 */
export const COMPRESSION_RATIO_EXEMPT_BYTES = 16 * 1024 * 1024;

/**
 * Counts entries and unpacked bytes against the limits, so a zip or tar bomb stops at the limit:
 * archive formats check declared sizes up front with `declare`, and every byte written (or, for a
 * compressed tar, decompressed) is counted again as it arrives, since declared sizes can lie.
 */
export class ExtractionBudget {
  entries = 0;
  /** Bytes written to files. */
  bytes = 0;
  /** Bytes declared so far by the entries checked up front (zip). */
  private declared = 0;
  /** Decompressed bytes of the archive's stream (tar.gz), headers and skipped entries included. */
  private streamed = 0;
  /** Most bytes the archive may unpack to for its compression ratio. */
  readonly ratioCap: number;

  constructor(
    readonly limits: ArchiveLimits,
    /** The archive's size on disk. */
    readonly archiveBytes: number,
  ) {
    this.ratioCap = Math.max(limits.maxCompressionRatio * archiveBytes, COMPRESSION_RATIO_EXEMPT_BYTES);
  }

  countEntry(name: string): void {
    if (++this.entries > this.limits.maxEntries) {
      throw new ArchiveError('TOO_MANY_ENTRIES', `is past the limit of ${this.limits.maxEntries} entries per archive (DATASET_MAX_ENTRIES)`, name);
    }
  }

  /** An entry's declared size, checked before anything is written. */
  declare(size: number, name: string): void {
    this.declared += size;
    if (this.declared > this.limits.maxExtractedBytes) {
      throw new ArchiveError('TOO_LARGE', `declares ${size} bytes, which takes the unpacked size past the limit of ${this.limits.maxExtractedBytes} bytes (DATASET_EXTRACTED_LIMIT_BYTES)`, name);
    }
    if (this.declared > this.ratioCap) throw this.ratioError(`declares ${size} bytes, which would unpack the archive to ${this.declared} bytes`, name);
  }

  /** Bytes written to a file. */
  addBytes(n: number, name: string): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxExtractedBytes) {
      throw new ArchiveError('TOO_LARGE', `takes the unpacked size past the limit of ${this.limits.maxExtractedBytes} bytes (DATASET_EXTRACTED_LIMIT_BYTES)`, name);
    }
    if (this.bytes > this.ratioCap) throw this.ratioError(`takes the unpacked size to ${this.bytes} bytes`, name);
  }

  /** Decompressed bytes of the archive's own stream (a compressed tar), counted for the ratio only. */
  addStreamBytes(n: number, name: string | undefined): void {
    this.streamed += n;
    if (this.streamed > this.ratioCap) throw this.ratioError(`decompresses to more than ${this.ratioCap} bytes`, name);
  }

  ratioError(what: string, name?: string): ArchiveError {
    const message = `${what}, more than ${this.limits.maxCompressionRatio} times the archive's ${this.archiveBytes} bytes (DATASET_MAX_COMPRESSION_RATIO); is it a compression bomb?`;
    return new ArchiveError('COMPRESSION_RATIO', message, name);
  }
}

/** Files that archivers add on their own and no data set means to contain. */
function isArchiverLitter(segments: string[]): boolean {
  const base = segments[segments.length - 1]!;
  return segments[0] === '__MACOSX' || base === '.DS_Store' || base.startsWith('._');
}

/**
 * The relative path to unpack an entry to, or undefined for an entry to skip (the `./` root folder,
 * macOS's `__MACOSX/` and `._*` companions). An entry that could land outside the target folder
 * (absolute, drive letter, `..`, backslashes, NUL) is refused, never rewritten: the archive is wrong.
 */
export function safeEntryPath(name: string): string | undefined {
  if (name.includes('\0')) throw new ArchiveError('ENTRY_UNSAFE', 'has a NUL character in its name', name);
  if (name.includes('\\')) throw new ArchiveError('ENTRY_UNSAFE', 'has a backslash in its name; re-create the archive with "/" as the separator', name);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw new ArchiveError('ENTRY_UNSAFE', 'is an absolute path; entries must be relative to the archive', name);
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new ArchiveError('ENTRY_UNSAFE', 'contains ".." and would be written outside the data set folder', name);
  if (segments.length === 0 || isArchiverLitter(segments)) return undefined;
  return segments.join('/');
}

/**
 * Writes an entry's bytes to a new file (never over an existing one: a second entry with the same
 * name is refused), through `checks` (e.g. inflating, verifying a size and CRC), counting them
 * against the budget as they arrive. Settles only once every stream is closed, the file included,
 * so nothing is open or still being written when the caller removes the folder; `signal` (the
 * unpacking deadline) stops it.
 */
/**
 * A pass-through stream that hands every chunk's size to `count` first: the budget's checks throw,
 * and the throw fails the stream (and with it the pipeline) before the chunk goes on.
 */
export function byteCounter(count: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        count(chunk.length);
        done(null, chunk);
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

export async function writeEntryFile(
  source: Readable,
  path: string,
  budget: ExtractionBudget,
  name: string,
  signal: AbortSignal,
  checks: Transform[] = [],
): Promise<void> {
  const count = byteCounter((bytes) => budget.addBytes(bytes, name));
  const streams: (Readable | Writable)[] = [source, ...checks, count];
  try {
    await makeFolder(dirname(path), name);
    // Checked before a file is made: pipeline can wait forever on a source destroyed before it started.
    signal.throwIfAborted();
    if (source.destroyed) throw source.errored ?? new ArchiveError('ARCHIVE_CORRUPT', 'was cut off before it could be written', name);
    streams.push(createWriteStream(path, { flags: 'wx' }));
    await pipeline(streams, { signal });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof ArchiveError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw (await isFolder(path)) ? clash(name) : new ArchiveError('ENTRY_UNSAFE', 'appears twice in the archive', name);
    if (code === 'EISDIR') throw clash(name);
    // The disk or the folder failing (ENOSPC, EACCES...) is the server's problem, not the archive's.
    if ((err as NodeJS.ErrnoException).syscall !== undefined) throw err;
    throw new ArchiveError('ARCHIVE_CORRUPT', `cannot be unpacked: ${(err as Error).message}`, name);
  } finally {
    // A source never piped (refused before the file was made) still holds the archive open; and
    // pipeline settles on the first error while the file may still be open: wait until all are closed.
    for (const s of streams) if (!s.destroyed) s.destroy();
    await allClosed(streams);
  }
}

/** Makes an entry's folder (and its parents); a file already in the way means two entries clash. */
export async function makeFolder(path: string, name: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw clash(name);
    throw err;
  }
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    // Gone or unreadable: then it was no folder of ours.
    return false;
  }
}

function clash(name: string): ArchiveError {
  return new ArchiveError('ENTRY_UNSAFE', 'clashes with another entry: the same path is both a file and a folder', name);
}

/** Resolves once every stream has emitted 'close' (all of these are destroyed after they end or fail, so they do). */
export async function allClosed(streams: readonly (Readable | Writable)[]): Promise<void> {
  await Promise.all(streams.map((s) => (s.closed ? undefined : new Promise((closed) => s.once('close', closed)))));
}
