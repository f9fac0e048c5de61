import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveError, ExtractionBudget, type ArchiveLimits } from './archive-entry-policy.js';
import { extractTar } from './tar-extraction.js';
import { extractZip } from './zip-extraction.js';

export type ArchiveFormat = 'zip' | 'tar.gz' | 'tar';

export interface ExtractedArchive {
  format: ArchiveFormat;
  /** The data set folder: `dest`, or the archive's one top folder when everything is inside it. */
  root: string;
  entries: number;
  bytes: number;
}

/** The archive format told from its first bytes (a name can say .zip and hold anything). */
export async function archiveFormatOf(archive: string): Promise<ArchiveFormat | undefined> {
  const head = Buffer.alloc(262);
  const fh = await open(archive, 'r');
  let n: number;
  try {
    ({ bytesRead: n } = await fh.read(head, 0, head.length, 0));
  } finally {
    await fh.close();
  }
  if (n >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) return 'zip';
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (n >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  return undefined;
}

/**
 * Unpacks a data set archive (.zip, .tar.gz/.tgz or .tar) into the empty folder `dest` under the
 * limits, refusing unsafe entries (see safeEntryPath) and bombs (by declared sizes first, then by
 * counting). The CSV and images may sit at the top level or inside one top folder. Past
 * `limits.unpackTimeoutMs` everything is stopped and an UNPACK_TIMEOUT error thrown. It settles
 * only once nothing it opened is open any more; on error the caller removes `dest`.
 */
export async function extractDatasetArchive(archive: string, dest: string, limits: ArchiveLimits): Promise<ExtractedArchive> {
  const format = await archiveFormatOf(archive);
  if (!format) throw new ArchiveError('ARCHIVE_UNSUPPORTED', 'the upload is not a .zip, .tar.gz/.tgz or .tar archive (told from its first bytes)');
  const budget = new ExtractionBudget(limits, (await stat(archive)).size);
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new ArchiveError(
          'UNPACK_TIMEOUT',
          `unpacking took longer than ${limits.unpackTimeoutMs} ms (DATASET_UNPACK_TIMEOUT_MS) and was stopped after ${budget.entries} entries and ${budget.bytes} bytes; register a data set this large by path (POST /datasets) instead`,
        ),
      ),
    limits.unpackTimeoutMs,
  );
  try {
    if (format === 'zip') await extractZip(archive, dest, budget, deadline.signal);
    else await extractTar(archive, dest, budget, deadline.signal, format === 'tar.gz');
  } catch (err) {
    // Whatever broke while the deadline passed (a destroyed stream, an aborted pipeline), the deadline is the cause.
    throw deadline.signal.aborted ? (deadline.signal.reason as ArchiveError) : err;
  } finally {
    clearTimeout(timer);
  }
  const top = await readdir(dest, { withFileTypes: true });
  if (top.length === 0) throw new ArchiveError('ARCHIVE_CORRUPT', 'the archive holds no files');
  const root = top.length === 1 && top[0]!.isDirectory() ? join(dest, top[0]!.name) : dest;
  return { format, root, entries: budget.entries, bytes: budget.bytes };
}
