import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflatedZeros, openFilesUnder, writeTar, writeZip, type ArchiveEntrySpec } from '@medfusion/testing';
import { ArchiveError, type ArchiveLimits } from './archive-entry-policy.js';
import { extractDatasetArchive } from './dataset-archive.js';

const work = mkdtempSync(join(tmpdir(), 'mf-archive-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const LIMITS: ArchiveLimits = { maxEntries: 100, maxExtractedBytes: 1024 * 1024, maxCompressionRatio: 100, unpackTimeoutMs: 20_000 };
/** Limits under which only the compression ratio can refuse a bomb. */
const ROOMY: ArchiveLimits = { ...LIMITS, maxExtractedBytes: 8 * 1024 ** 3 };


/** Fails fast with a clear message instead of waiting for Jest's timeout when unpacking hangs. */
function settlesWithin<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`unpacking did not settle within ${ms} ms (a hang)`)), ms);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

/** Every file under `dir`, relative, with its size. */
function filesUnder(dir: string, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, filesUnder(dir, rel));
    else out[rel] = statSync(join(dir, rel)).size;
  }
  return out;
}

let n = 0;
/** Writes the archive, unpacks it into a fresh folder inside a fresh parent (to see anything escaping). */
async function unpack(bytes: Buffer, limits = LIMITS) {
  const parent = join(work, `case-${++n}`);
  const dest = join(parent, 'dest');
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(parent, 'upload.bin'), bytes);
  const result = await settlesWithin(15_000, extractDatasetArchive(join(parent, 'upload.bin'), dest, limits));
  expect(openFilesUnder(parent)).toEqual([]);
  return { parent, dest, result };
}

async function refused(bytes: Buffer, limits = LIMITS): Promise<ArchiveError & { parent: string; dest: string }> {
  const parent = join(work, `case-${++n}`);
  const dest = join(parent, 'dest');
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(parent, 'upload.bin'), bytes);
  const err: unknown = await settlesWithin(15_000, extractDatasetArchive(join(parent, 'upload.bin'), dest, limits)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveError);
  // Nothing was written next to the target folder, and nothing is left open: the caller can remove `dest` at once.
  expect(readdirSync(parent).sort()).toEqual(['dest', 'upload.bin']);
  expect(openFilesUnder(parent)).toEqual([]);
  return Object.assign(err as ArchiveError, { parent, dest });
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
    const clash = /^entry "a\/?(b\.csv)?" clashes with another entry: the same path is both a file and a folder$/;
    for (const write of [writeZip, (e: ArchiveEntrySpec[]) => writeTar(e)]) {
      expect(await refused(write([{ name: 'a', data: 'x' }, { name: 'a/b.csv', data: 'y' }]))).toMatchObject({ code: 'ENTRY_UNSAFE', message: expect.stringMatching(clash) });
      expect(await refused(write([{ name: 'a', data: 'x' }, { name: 'a/', type: 'directory' }]))).toMatchObject({ code: 'ENTRY_UNSAFE', message: expect.stringMatching(clash) });
      expect(await refused(write([{ name: 'a/', type: 'directory' }, { name: 'a', data: 'x' }]))).toMatchObject({ code: 'ENTRY_UNSAFE', message: expect.stringMatching(clash) });
    }
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

  // Issue #17: `zip -r` stores files that do not shrink (PNGs); a stored entry hung the upload forever.
  const noise = randomBytes(200_000);
  const MIXED: ArchiveEntrySpec[] = [
    { name: 'ds/clinical.csv', data: 'image,label\nimg/a.png,0\nimg/big.png,1\n', method: 'deflate' },
    { name: 'ds/img/a.png', data: Buffer.from([1, 2, 3]), method: 'store' },
    { name: 'ds/img/empty.png', data: Buffer.alloc(0), method: 'store' },
    { name: 'ds/img/big.png', data: noise, method: 'store' },
    { name: 'ds/img/deflated.png', data: noise, method: 'deflate' },
  ];
  const asMethod = (method: 'store' | 'deflate') => MIXED.map((e) => ({ ...e, method }));
  it.each([
    ['stored', asMethod('store')],
    ['deflated', asMethod('deflate')],
    ['mixed', MIXED],
  ] as const)('unpacks a zip of %s entries, every byte', async (_kind, entries) => {
    const { dest, result } = await unpack(writeZip(entries), { ...LIMITS, maxExtractedBytes: 8 * 1024 * 1024 });
    expect(result).toMatchObject({ format: 'zip', root: join(dest, 'ds'), entries: 5 });
    expect(readFileSync(join(dest, 'ds/img/big.png'))).toEqual(noise);
    expect(readFileSync(join(dest, 'ds/img/deflated.png'))).toEqual(noise);
    expect(readFileSync(join(dest, 'ds/img/a.png'))).toEqual(Buffer.from([1, 2, 3]));
    expect(readFileSync(join(dest, 'ds/img/empty.png'))).toEqual(Buffer.alloc(0));
  });

  it('unpacks what the zip and tar commands make (the documented recipe)', async () => {
    const src = join(work, `cli-${++n}`);
    mkdirSync(join(src, 'images'), { recursive: true });
    writeFileSync(join(src, 'clinical.csv'), 'image,label\nimages/a.png,0\n'.repeat(50));
    writeFileSync(join(src, 'images/a.png'), randomBytes(5000));
    writeFileSync(join(src, 'images/b.png'), randomBytes(300_000));
    const expected = { 'clinical.csv': 1350, 'images/a.png': 5000, 'images/b.png': 300_000 };
    const made: [string, string[]][] = [
      ['data.zip', ['zip', '-q', '-r', 'data.zip', 'clinical.csv', 'images']],
      ['stored.zip', ['zip', '-q', '-0', '-r', 'stored.zip', 'clinical.csv', 'images']],
      ['data.tar.gz', ['tar', '-czf', 'data.tar.gz', 'clinical.csv', 'images']],
      ['data.tar', ['tar', '-cf', 'data.tar', 'clinical.csv', 'images']],
    ];
    for (const [file, [cmd, ...args]] of made) {
      execFileSync(cmd!, args, { cwd: src });
      const { dest } = await unpack(readFileSync(join(src, file)), { ...LIMITS, maxExtractedBytes: 8 * 1024 * 1024 });
      expect([file, filesUnder(dest)]).toEqual([file, expected]);
    }
  });

  it('refuses a zip bomb by its declared sizes and compression ratio before writing a byte', async () => {
    // 64 MiB of zeros in about 64 KiB, far under the unpacked-size limit: only the ratio can stop it.
    const zeros = await deflatedZeros(64 * 1024 * 1024);
    const err = await refused(writeZip([{ name: 'clinical.csv', data: 'image,label\n' }, { name: 'zeros.bin', deflated: zeros }]), ROOMY);
    expect(err).toMatchObject({ code: 'COMPRESSION_RATIO', entry: 'zeros.bin', message: expect.stringMatching(/more than 100 times/) });
    expect(readdirSync(err.dest)).toEqual([]);
  });

  it('refuses a zip whose entries hold more than they declare, while unpacking', async () => {
    const zeros = await deflatedZeros(64 * 1024 * 1024);
    const err = await refused(writeZip([{ name: 'clinical.csv', data: 'image,label\n' }, { name: 'zeros.bin', deflated: zeros, declaredSize: 1000 }]), ROOMY);
    expect(err).toMatchObject({ code: 'ARCHIVE_CORRUPT', entry: 'zeros.bin', message: expect.stringMatching(/more than the 1000 bytes it declares/) });
    expect(statSync(join(err.dest, 'zeros.bin')).size).toBeLessThanOrEqual(1000);
  });

  it('refuses a tar.gz bomb by its declared size, and by counting when the gzip trailer lies', async () => {
    const bomb = writeTar([{ name: 'clinical.csv', data: 'image,label\n' }, { name: 'zeros.bin', data: Buffer.alloc(64 * 1024 * 1024) }]);
    const declared = await refused(bomb, ROOMY);
    expect(declared).toMatchObject({ code: 'COMPRESSION_RATIO', message: expect.stringMatching(/declares .* more than 100 times/) });
    expect(readdirSync(declared.dest)).toEqual([]);
    // gzip's trailer says 1000 bytes; the stream is counted as it is decompressed.
    const lying = Buffer.from(bomb);
    lying.writeUInt32LE(1000, lying.length - 4);
    const counted = await refused(lying, ROOMY);
    expect(counted).toMatchObject({ code: 'COMPRESSION_RATIO', message: expect.stringMatching(/more than 100 times/) });
    const written = Object.values(filesUnder(counted.dest)).reduce((a, b) => a + b, 0);
    expect(written).toBeLessThanOrEqual(17 * 1024 * 1024);
  });

  it('gives up at the unpacking deadline, closing everything it opened', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ name: `img/f${i}.png`, data: randomBytes(64), method: 'store' as const }));
    for (const archive of [writeZip(many), writeTar(many)]) {
      const err = await refused(archive, { ...LIMITS, maxEntries: 10_000, unpackTimeoutMs: 20 });
      expect(err).toMatchObject({ code: 'UNPACK_TIMEOUT', message: expect.stringMatching(/20 ms/) });
      // Nothing is still being written once it has answered.
      const before = filesUnder(err.dest);
      await new Promise((r) => setTimeout(r, 100));
      expect(filesUnder(err.dest)).toEqual(before);
    }
  });
});
