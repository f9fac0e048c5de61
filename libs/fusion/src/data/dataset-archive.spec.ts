import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTar, writeZip, type ArchiveEntrySpec } from '@medfusion/testing';
import { ArchiveError, type ArchiveLimits } from './archive-entry-policy.js';
import { extractDatasetArchive } from './dataset-archive.js';

const work = mkdtempSync(join(tmpdir(), 'mf-archive-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const LIMITS: ArchiveLimits = { maxEntries: 100, maxExtractedBytes: 1024 * 1024 };

let n = 0;
/** Writes the archive, unpacks it into a fresh folder inside a fresh parent (to see anything escaping). */
async function unpack(bytes: Buffer, limits = LIMITS) {
  const parent = join(work, `case-${++n}`);
  const dest = join(parent, 'dest');
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(parent, 'upload.bin'), bytes);
  const result = await extractDatasetArchive(join(parent, 'upload.bin'), dest, limits);
  return { parent, dest, result };
}

async function refused(bytes: Buffer, limits = LIMITS): Promise<ArchiveError & { parent: string }> {
  const parent = join(work, `case-${++n}`);
  const dest = join(parent, 'dest');
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(parent, 'upload.bin'), bytes);
  const err: unknown = await extractDatasetArchive(join(parent, 'upload.bin'), dest, limits).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ArchiveError);
  // Nothing was written next to the target folder.
  expect(readdirSync(parent).sort()).toEqual(['dest', 'upload.bin']);
  return Object.assign(err as ArchiveError, { parent });
}

const DATA: ArchiveEntrySpec[] = [
  { name: 'ds/', type: 'directory' },
  { name: 'ds/clinical.csv', data: 'image,label\nimg/a.png,0\n' },
  { name: 'ds/img/a.png', data: Buffer.from([1, 2, 3]) },
];

describe('extractDatasetArchive', () => {
  it.each([
    ['zip', writeZip],
    ['tar.gz', (e: ArchiveEntrySpec[]) => writeTar(e)],
    ['tar', (e: ArchiveEntrySpec[]) => writeTar(e, false)],
  ] as const)('unpacks a %s and uses its one top folder as the data set root', async (format, write) => {
    const { dest, result } = await unpack(write(DATA));
    expect(result).toEqual({ format, root: join(dest, 'ds'), entries: 3, bytes: 24 + 3 });
    expect(readFileSync(join(dest, 'ds/img/a.png'))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('keeps a flat archive as it is and skips ./ and macOS litter', async () => {
    const { dest, result } = await unpack(
      writeTar([{ name: './', type: 'directory' }, { name: './clinical.csv', data: 'x' }, { name: './._clinical.csv', data: 'mac' }, { name: 'img/b.png', data: 'y' }]),
    );
    expect(result.root).toBe(dest);
    expect(readdirSync(dest).sort()).toEqual(['clinical.csv', 'img']);
    const zipped = await unpack(writeZip([{ name: 'clinical.csv', data: 'x' }, { name: '__MACOSX/._clinical.csv', data: 'mac' }, { name: '.DS_Store', data: 'mac' }]));
    expect(readdirSync(zipped.dest)).toEqual(['clinical.csv']);
  });

  it.each([
    ['zip', writeZip],
    ['tar.gz', (e: ArchiveEntrySpec[]) => writeTar(e)],
  ] as const)('refuses path traversal and absolute paths in a %s, naming the entry', async (_f, write) => {
    const up = await refused(write([{ name: 'clinical.csv', data: 'x' }, { name: 'img/../../evil.txt', data: 'pwned' }]));
    expect(up).toMatchObject({ code: 'ENTRY_UNSAFE', entry: 'img/../../evil.txt' });
    expect(up.message).toBe('entry "img/../../evil.txt" contains ".." and would be written outside the data set folder');
    const abs = await refused(write([{ name: '/tmp/evil.txt', data: 'pwned' }]));
    expect(abs).toMatchObject({ code: 'ENTRY_UNSAFE', entry: '/tmp/evil.txt', message: expect.stringMatching(/is an absolute path/) });
  });

  it('refuses links and devices, naming the entry', async () => {
    const zipLink = await refused(writeZip([{ name: 'img/a.png', type: 'symlink', linkpath: '/etc/passwd' }]));
    expect(zipLink).toMatchObject({ code: 'ENTRY_UNSAFE', entry: 'img/a.png', message: 'entry "img/a.png" is a symbolic link; archives may hold only files and folders' });
    const tarLink = await refused(writeTar([{ name: 'img/a.png', type: 'symlink', linkpath: '../../etc/passwd' }]));
    expect(tarLink).toMatchObject({ code: 'ENTRY_UNSAFE', entry: 'img/a.png', message: expect.stringMatching(/is a symbolic link to "\.\.\/\.\.\/etc\/passwd"/) });
    const hard = await refused(writeTar([{ name: 'a.csv', data: 'x' }, { name: 'b.csv', type: 'hardlink', linkpath: 'a.csv' }]));
    expect(hard).toMatchObject({ code: 'ENTRY_UNSAFE', entry: 'b.csv', message: expect.stringMatching(/is a hard link/) });
    expect(await refused(writeTar([{ name: 'dev', type: 'chardevice' }]))).toMatchObject({ code: 'ENTRY_UNSAFE', entry: 'dev', message: expect.stringMatching(/CharacterDevice/) });
    expect(await refused(writeZip([{ name: 'pipe', type: 'fifo' }]))).toMatchObject({ code: 'ENTRY_UNSAFE', entry: 'pipe', message: expect.stringMatching(/special file/) });
  });

  it('refuses duplicate entries instead of overwriting', async () => {
    const dup = await refused(writeTar([{ name: 'a.csv', data: 'x' }, { name: 'a.csv', data: 'y' }]));
    expect(dup).toMatchObject({ code: 'ENTRY_UNSAFE', entry: 'a.csv', message: 'entry "a.csv" appears twice in the archive' });
  });

  it('stops at the entry and unpacked-size limits (zip and tar bombs)', async () => {
    const many = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }));
    expect(await refused(writeZip(many), { ...LIMITS, maxEntries: 4 })).toMatchObject({ code: 'TOO_MANY_ENTRIES', message: expect.stringMatching(/has 5 entries, more than the limit of 4/) });
    expect(await refused(writeTar(many), { ...LIMITS, maxEntries: 4 })).toMatchObject({ code: 'TOO_MANY_ENTRIES', entry: 'f4.txt' });
    // 2 MiB of zeros compress to about 2 KiB.
    const zeros = [{ name: 'clinical.csv', data: 'x' }, { name: 'big.bin', data: Buffer.alloc(2 * 1024 * 1024) }];
    expect(await refused(writeZip(zeros))).toMatchObject({ code: 'TOO_LARGE', entry: 'big.bin', message: expect.stringMatching(/declares 2097152 bytes/) });
    expect(await refused(writeTar(zeros))).toMatchObject({ code: 'TOO_LARGE', entry: 'big.bin' });
  });

  it('refuses what is not an archive, and a broken one', async () => {
    expect(await refused(Buffer.from('image,label\n'))).toMatchObject({ code: 'ARCHIVE_UNSUPPORTED' });
    const tgz = writeTar(DATA);
    expect(await refused(tgz.subarray(0, tgz.length - 30))).toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    // Cut inside a file's body: the half-read entry must not leave the extraction hanging.
    const noisy = writeTar([{ name: 'noise.bin', data: randomBytes(200_000) }]);
    expect(await refused(noisy.subarray(0, noisy.length / 2))).toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    const zip = writeZip(DATA);
    expect(await refused(zip.subarray(0, zip.length - 10))).toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    expect(await refused(writeZip([]))).toMatchObject({ code: 'ARCHIVE_CORRUPT', message: 'the archive holds no files' });
  });

  it('leaves no file outside the target even for a traversal behind valid entries', async () => {
    const err = await refused(writeZip([...DATA, { name: '../escape.txt', data: 'x' }]));
    expect(err.entry).toBe('../escape.txt');
    expect(existsSync(join(err.parent, 'escape.txt'))).toBe(false);
  });
});
