import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { ArchiveError, makeFolder, safeEntryPath, writeEntryFile, type ExtractionBudget } from './archive-entry-policy.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;
const STORED = 0;
const DEFLATED = 8;
/** Methods other archivers use that we cannot read, by number, for a message the user can act on. */
const METHOD_NAMES: Record<number, string> = { 1: 'shrink', 6: 'implode', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz', 98: 'ppmd', 99: 'AES encryption' };

/** An entry that passed every check of the central directory, with where its bytes go. */
interface PlannedEntry {
  entry: Entry;
  /** Relative path inside the target folder. */
  rel: string;
  isDirectory: boolean;
}

/**
 * Unpacks a .zip into `dest` in two passes. First the central directory alone: every entry's type,
 * path, method and declared size is checked (links, devices, unsafe paths, duplicates, encryption,
 * unknown methods, the unpacked-size limit and compression ratio), so a bomb or a bad entry is
 * refused before a byte is written. Then the files, one at a time, read straight from the archive
 * (inflated when deflated), their bytes counted against the budget and checked against the size
 * and CRC-32 their entry declares. On error, what was written stays for the caller to remove, but
 * nothing is open any more when this settles.
 */
export async function extractZip(archive: string, dest: string, budget: ExtractionBudget, signal: AbortSignal): Promise<void> {
  const opened = await openZip(archive);
  const { zip } = opened;
  try {
    if (zip.entryCount > budget.limits.maxEntries) {
      throw new ArchiveError('TOO_MANY_ENTRIES', `has ${zip.entryCount} entries, more than the limit of ${budget.limits.maxEntries} (DATASET_MAX_ENTRIES)`);
    }
    const plan = await planEntries(zip, budget, signal);
    for (const item of plan) {
      signal.throwIfAborted();
      if (item.isDirectory) await makeFolder(join(dest, item.rel), item.entry.fileName);
      else await unpackFile(zip, archive, item, join(dest, item.rel), budget, signal);
    }
  } finally {
    await closeZip(opened);
  }
}

/**
 * yauzl reading through a descriptor we own: yauzl.open closes its own on its schedule (after a
 * failed open, asynchronously and unannounced), so the archive could still be open after we answered.
 */
class FileHandleReader extends yauzl.RandomAccessReader {
  constructor(private readonly fh: FileHandle) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return createReadStream('', { fd: this.fh, start, end: end - 1, autoClose: false, emitClose: false });
  }

  // yauzl passes the bytes read as a second argument, which @types/yauzl leaves out.
  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead?: number) => void): void {
    this.fh.read(buffer, offset, length, position).then(
      ({ bytesRead }) => callback(null, bytesRead),
      (err: Error) => callback(err),
    );
  }
}

interface OpenZip {
  zip: ZipFile;
  fh: FileHandle;
}

async function openZip(archive: string): Promise<OpenZip> {
  const fh = await open(archive, 'r');
  try {
    const { size } = await fh.stat();
    const zip = await new Promise<ZipFile>((resolve, reject) => {
      // autoClose off: the archive is closed by us, once, after the last entry or on error.
      yauzl.fromRandomAccessReader(new FileHandleReader(fh), size, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true }, (err, zip) => {
        if (err) reject(fromYauzl(err));
        else resolve(zip);
      });
    });
    return { zip, fh };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function closeZip({ zip, fh }: OpenZip): Promise<void> {
  zip.close();
  await fh.close();
}

/** Reads the central directory, checking every entry before anything is written. */
function planEntries(zip: ZipFile, budget: ExtractionBudget, signal: AbortSignal): Promise<PlannedEntry[]> {
  const plan: PlannedEntry[] = [];
  const files = new Set<string>();
  return new Promise<PlannedEntry[]>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    zip.on('error', (err: Error) => fail(fromYauzl(err)));
    zip.on('end', () => {
      if (!failed) resolve(plan);
    });
    zip.on('entry', (entry: Entry) => {
      if (failed) return;
      try {
        signal.throwIfAborted();
        const item = checkEntry(entry, budget, files);
        if (item) plan.push(item);
        zip.readEntry();
      } catch (err) {
        fail(err);
      }
    });
    zip.readEntry();
  });
}

function checkEntry(entry: Entry, budget: ExtractionBudget, files: Set<string>): PlannedEntry | undefined {
  const name = entry.fileName;
  budget.countEntry(name);
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (entry.versionMadeBy >> 8 === MADE_BY_UNIX && mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
    const kind = mode === S_IFLNK ? 'a symbolic link' : `a special file (mode ${mode.toString(8)})`;
    throw new ArchiveError('ENTRY_UNSAFE', `is ${kind}; archives may hold only files and folders`, name);
  }
  const rel = safeEntryPath(name);
  if (rel === undefined) return undefined;
  if (name.endsWith('/')) return { entry, rel, isDirectory: true };
  if (entry.isEncrypted()) throw new ArchiveError('ARCHIVE_UNSUPPORTED', 'is encrypted; upload an archive without a password', name);
  if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
    const method = METHOD_NAMES[entry.compressionMethod] ?? 'an unknown method';
    throw new ArchiveError(
      'ARCHIVE_UNSUPPORTED',
      `is compressed with ${method} (method ${entry.compressionMethod}); re-create the archive with deflate or no compression (e.g. zip -r)`,
      name,
    );
  }
  if (files.has(rel)) throw new ArchiveError('ENTRY_UNSAFE', 'appears twice in the archive', name);
  files.add(rel);
  budget.declare(entry.uncompressedSize, name);
  return { entry, rel, isDirectory: false };
}

/**
 * The entry's bytes come from our own read stream over its range of the archive, not from yauzl's
 * openReadStream: for a stored entry that is yauzl's internal fd-slicer stream, which flags itself
 * destroyed when it reaches the end of its range while its last chunk is still buffered and never
 * emits 'close', so `for await`, stream.pipeline and finished() wait on it forever (the upload that
 * never answered, issue #17), with the archive and the half-written file left open.
 */
async function unpackFile(zip: ZipFile, archive: string, { entry }: PlannedEntry, path: string, budget: ExtractionBudget, signal: AbortSignal): Promise<void> {
  const name = entry.fileName;
  const { fileDataStart } = await new Promise<{ fileDataStart: number }>((resolve, reject) => {
    zip.readLocalFileHeader(entry, { minimal: true }, (err, header) =>
      err ? reject(new ArchiveError('ARCHIVE_CORRUPT', `cannot be read: ${err.message}`, name)) : resolve(header),
    );
  });
  // fs read streams take an inclusive end, so an empty range cannot be expressed as one.
  const source = entry.compressedSize === 0 ? Readable.from([]) : createReadStream(archive, { start: fileDataStart, end: fileDataStart + entry.compressedSize - 1 });
  const checks = entry.compressionMethod === DEFLATED ? [createInflateRaw(), verifyEntry(entry)] : [verifyEntry(entry)];
  await writeEntryFile(source, path, budget, name, signal, checks);
}

/** Passes an entry's bytes on while checking them against the size and CRC-32 its entry declares (the ratio check trusted that size). */
function verifyEntry(entry: Entry): Transform {
  const name = entry.fileName;
  const declared = entry.uncompressedSize;
  let seen = 0;
  let crc = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > declared) {
        done(new ArchiveError('ARCHIVE_CORRUPT', `holds more than the ${declared} bytes it declares; the archive is damaged or forged`, name));
        return;
      }
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      if (seen < declared) done(new ArchiveError('ARCHIVE_CORRUPT', `holds ${seen} bytes, fewer than the ${declared} it declares; the archive is damaged`, name));
      else if (crc >>> 0 !== entry.crc32 >>> 0) done(new ArchiveError('ARCHIVE_CORRUPT', 'does not match its CRC-32; the archive is damaged', name));
      else done();
    },
  });
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
