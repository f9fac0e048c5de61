import { mkdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { ArchiveError, safeEntryPath, writeEntryFile, type ExtractionBudget } from './archive-entry-policy.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;

/**
 * Unpacks a .zip into `dest`, one entry at a time: only files and folders (a Unix symlink or device
 * is refused), every path checked, sizes counted as written (yauzl also checks each entry's bytes
 * against its declared size). On error, what was written stays for the caller to remove.
 */
export async function extractZip(archive: string, dest: string, budget: ExtractionBudget): Promise<void> {
  const zip = await openZip(archive);
  if (zip.entryCount > budget.limits.maxEntries) {
    zip.close();
    throw new ArchiveError('TOO_MANY_ENTRIES', `has ${zip.entryCount} entries, more than the limit of ${budget.limits.maxEntries}`);
  }
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      zip.close();
      reject(err);
    };
    zip.on('error', (err: Error) => fail(fromYauzl(err)));
    zip.on('end', () => {
      if (!failed) resolve();
    });
    zip.on('entry', (entry: Entry) => {
      unpackEntry(zip, entry, dest, budget).then(() => zip.readEntry(), fail);
    });
    zip.readEntry();
  });
}

function openZip(archive: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(archive, { lazyEntries: true, autoClose: true, decodeStrings: true, validateEntrySizes: true }, (err, zip) => {
      if (err) reject(fromYauzl(err));
      else resolve(zip);
    });
  });
}

async function unpackEntry(zip: ZipFile, entry: Entry, dest: string, budget: ExtractionBudget): Promise<void> {
  const name = entry.fileName;
  budget.countEntry(name);
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (entry.versionMadeBy >> 8 === MADE_BY_UNIX && mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
    const kind = mode === S_IFLNK ? 'a symbolic link' : `a special file (mode ${mode.toString(8)})`;
    throw new ArchiveError('ENTRY_UNSAFE', `is ${kind}; archives may hold only files and folders`, name);
  }
  const rel = safeEntryPath(name);
  if (rel === undefined) return;
  if (name.endsWith('/')) {
    await mkdir(join(dest, rel), { recursive: true });
    return;
  }
  if (entry.isEncrypted()) throw new ArchiveError('ARCHIVE_UNSUPPORTED', 'is encrypted; upload an archive without a password', name);
  // Refuse early on the declared size; the bytes actually written are counted as well.
  if (budget.bytes + entry.uncompressedSize > budget.limits.maxExtractedBytes) {
    throw new ArchiveError('TOO_LARGE', `declares ${entry.uncompressedSize} bytes, which takes the unpacked size past the limit of ${budget.limits.maxExtractedBytes} bytes`, name);
  }
  const stream = await new Promise<Readable>((resolve, reject) => {
    zip.openReadStream(entry, (err, s) => (err ? reject(new ArchiveError('ARCHIVE_CORRUPT', `cannot be read: ${err.message}`, name)) : resolve(s)));
  });
  try {
    await writeEntryFile(stream, join(dest, rel), budget, name);
  } catch (err) {
    stream.destroy();
    throw err instanceof ArchiveError ? err : new ArchiveError('ARCHIVE_CORRUPT', `cannot be unpacked: ${(err as Error).message}`, name);
  }
}

/** yauzl's own file-name checks (it runs them before we see the entry) get the same ArchiveError as ours; anything else means a broken zip. */
function fromYauzl(err: Error): ArchiveError {
  const m = /^(?:invalid characters in fileName|absolute path|invalid relative path): (.*)$/s.exec(err.message);
  if (m) {
    try {
      safeEntryPath(m[1]!);
    } catch (unsafe) {
      if (unsafe instanceof ArchiveError) return unsafe;
      throw unsafe;
    }
  }
  return new ArchiveError('ARCHIVE_CORRUPT', `is not a readable zip archive: ${err.message}`);
}
