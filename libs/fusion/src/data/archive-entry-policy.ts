import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Why an archive cannot be unpacked; stable, so callers can map it to a status without parsing messages. */
export type ArchiveErrorCode = 'ARCHIVE_UNSUPPORTED' | 'ARCHIVE_CORRUPT' | 'ENTRY_UNSAFE' | 'TOO_MANY_ENTRIES' | 'TOO_LARGE';

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
}

/** Counts entries and unpacked bytes against the limits, so a zip or tar bomb stops at the limit. */
export class ExtractionBudget {
  entries = 0;
  bytes = 0;
  constructor(readonly limits: ArchiveLimits) {}

  countEntry(name: string): void {
    if (++this.entries > this.limits.maxEntries) {
      throw new ArchiveError('TOO_MANY_ENTRIES', `is past the limit of ${this.limits.maxEntries} entries per archive`, name);
    }
  }

  addBytes(n: number, name: string): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxExtractedBytes) {
      throw new ArchiveError('TOO_LARGE', `takes the unpacked size past the limit of ${this.limits.maxExtractedBytes} bytes`, name);
    }
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
 * name is refused), counting them against the budget as they arrive.
 */
export async function writeEntryFile(source: AsyncIterable<Buffer>, path: string, budget: ExtractionBudget, name: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path, { flags: 'wx' });
  try {
    await once(out, 'open');
    for await (const chunk of source) {
      budget.addBytes(chunk.length, name);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } catch (err) {
    out.destroy();
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ArchiveError('ENTRY_UNSAFE', 'appears twice in the archive', name);
    throw err;
  }
}
