import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { encodeGrayPng, encodeJpeg } from '@medfusion/fusion';
import { deflatedZeros, openFilesUnder, waitFor, writeDicom, writeTar, writeZip, type ArchiveEntrySpec } from '@medfusion/testing';
import { startGateway, type GatewayHarness } from './gateway-harness.js';

/** POST /datasets/upload: archives streamed to disk, unpacked safely, validated by loading, stored with statistics. */

const UPLOAD_LIMIT = 64 * 1024;
const UNPACKED_LIMIT = 256 * 1024;
const artifacts = mkdtempSync(join(tmpdir(), 'mf-upload-artifacts-'));
const datasetsDir = join(artifacts, 'datasets');

/** Folders under <ARTIFACTS_DIR>/datasets other than the (emptied) uploads folder: one per stored dataset. */
const storedFolders = () => (existsSync(datasetsDir) ? readdirSync(datasetsDir).filter((d) => d !== '.uploads') : []);
const pendingUploads = () => (existsSync(join(datasetsDir, '.uploads')) ? readdirSync(join(datasetsDir, '.uploads')) : []);
/** The temporary file goes when the response is done, so just after the client has it: poll briefly. */
const noPendingUploads = () => waitFor('the temporary upload files to be removed', async () => pendingUploads().length === 0, 5000, 20);


/** An upload that hangs fails the test with this instead of holding it until Jest's timeout. */
const UPLOAD_DEADLINE_MS = 20_000;

/** POSTs an archive with text fields to the upload route. */
async function postUpload(h: GatewayHarness, key: string, archive: Buffer | undefined, fields: Record<string, string>, opts: { fileName?: string; headers?: Record<string, string> } = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (archive) form.append('file', new Blob([archive]), opts.fileName ?? 'dataset.zip');
  const res = await fetch(`${h.baseUrl}/api/v1/datasets/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, ...opts.headers },
    body: form,
    signal: AbortSignal.timeout(UPLOAD_DEADLINE_MS),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

/** The compression method of each entry in a zip's central directory (0 stored, 8 deflated). */
function zipMethods(zip: Buffer): Record<string, number> {
  const methods: Record<string, number> = {};
  const central = Buffer.from([0x50, 0x4b, 1, 2]);
  for (let at = zip.indexOf(central); at >= 0; at = zip.indexOf(central, at + 46)) {
    const nameLength = zip.readUInt16LE(at + 28);
    methods[zip.toString('utf8', at + 46, at + 46 + nameLength)] = zip.readUInt16LE(at + 10);
  }
  return methods;
}

const CSV = [
  'case_id,image,label,split,age,crp',
  'a,img/a.png,benign,train,50,1',
  'b,img/b.jpg,malignant,train,70,NA',
  'c,img/c.dcm,benign,val,60,',
  'd,img/d.png,malignant,test,40,3',
];

/** 8x8 images in all three formats, and the CSV naming them; `prefix` puts them under one top folder. */
function datasetEntries(prefix = '', csv: string[] = CSV, skip: string[] = []): ArchiveEntrySpec[] {
  const files: ArchiveEntrySpec[] = [
    { name: 'clinical.csv', data: `${csv.join('\n')}\n` },
    { name: 'img/a.png', data: encodeGrayPng(new Uint8Array(64).fill(30), 8, 8) },
    { name: 'img/b.jpg', data: encodeJpeg(new Uint8Array(12 * 10 * 4).fill(200), 12, 10) },
    { name: 'img/c.dcm', data: writeDicom({ rows: 6, columns: 5, pixels: new Array(30).fill(1064), bitsAllocated: 16, pixelRepresentation: 1, rescaleIntercept: -1024, windowCenter: 40, windowWidth: 400 }) },
    { name: 'img/d.png', data: encodeGrayPng(new Uint8Array(64).fill(90), 8, 8) },
  ];
  return files.filter((f) => !skip.includes(f.name)).map((f) => ({ ...f, name: prefix + f.name }));
}

describe('dataset upload over REST', () => {
  let h: GatewayHarness;
  let member: string;
  let viewer: string;

  beforeAll(async () => {
    h = await startGateway({
      ARTIFACTS_DIR: artifacts,
      DATASET_UPLOAD_LIMIT_BYTES: String(UPLOAD_LIMIT),
      DATASET_EXTRACTED_LIMIT_BYTES: String(UNPACKED_LIMIT),
      DATASET_MAX_ENTRIES: '50',
    });
    member = await h.createKey('member', 'mia');
    viewer = await h.createKey('viewer', 'vic');
  });
  afterAll(async () => {
    await h.close();
    rmSync(artifacts, { recursive: true, force: true });
  });

  function upload(archive: Buffer | undefined, fields: Record<string, string>, opts: { key?: string; fileName?: string; headers?: Record<string, string> } = {}) {
    return postUpload(h, opts.key ?? member, archive, fields, opts);
  }

  async function datasetCount(): Promise<number> {
    return (await h.api('GET', '/api/v1/datasets', { key: member })).body.total;
  }

  /** A refused upload leaves nothing behind: no row, no unpacked folder, no temporary file, nothing open. */
  async function expectNothingLeft(rowsBefore: number, foldersBefore: string[]) {
    expect(await datasetCount()).toBe(rowsBefore);
    expect(storedFolders().sort()).toEqual([...foldersBefore].sort());
    await noPendingUploads();
    expect(openFilesUnder(artifacts)).toEqual([]);
  }

  it('stores a zip with one top folder: counts, class distribution and statistics in the row', async () => {
    const res = await upload(writeZip(datasetEntries('lesions/')), { name: 'lesions', description: 'mixed formats', tags: 'derm, pilot' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'lesions',
      description: 'mixed formats',
      tags: ['derm', 'pilot'],
      numSamples: 4,
      numClasses: 2,
      trainSamples: 2,
      valSamples: 1,
      testSamples: 1,
      classDistribution: { benign: 2, malignant: 2 },
      createdBy: 'mia',
    });
    const { id, dataPath, statistics } = res.body;
    expect(dataPath).toBe(join(datasetsDir, id, 'lesions'));
    expect(readdirSync(dataPath).sort()).toEqual(['clinical.csv', 'img']);
    expect(statistics.clinical).toEqual({
      age: { count: 4, missing: 0, mean: 55, std: Math.sqrt(125), min: 40, max: 70 },
      crp: { count: 2, missing: 2, mean: 2, std: 1, min: 1, max: 3 },
    });
    expect(statistics.images).toEqual({ formats: { png: 2, jpeg: 1, dicom: 1 }, minWidth: 5, maxWidth: 12, minHeight: 6, maxHeight: 10 });
    expect(statistics.upload).toMatchObject({ format: 'zip', entries: 5 });
    // A viewer sees the same row without its server path (shown to the owner and admins only).
    const { dataPath: _serverPath, ...shared } = res.body;
    expect((await h.api('GET', `/api/v1/datasets/${id}`, { key: viewer })).body).toEqual(shared);
    await noPendingUploads();
  });

  it('stores a flat tar.gz, with custom column names and a class list', async () => {
    const csv = CSV.map((l, i) => (i === 0 ? 'case_id,path,diagnosis,fold,age,crp' : l));
    const res = await upload(writeTar(datasetEntries('', csv)), { name: 'renamed', imageColumn: 'path', labelColumn: 'diagnosis', splitColumn: 'fold', classNames: 'malignant,benign' }, { fileName: 'd.tgz' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ numSamples: 4, classDistribution: { malignant: 2, benign: 2 }, statistics: { upload: { format: 'tar.gz' } } });
    expect(res.body.dataPath).toBe(join(datasetsDir, res.body.id));
  });

  it('validates multi-view data with region masks: empty view and mask cells are kept, a missing mask file is a 422 naming its column', async () => {
    const csv = ['case_id,view_cc,view_mlo,mask,label,split,age', 'a,img/a.png,img/b.jpg,img/d.png,benign,train,50', 'b,img/d.png,,,malignant,train,70', 'c,,img/a.png,img/d.png,benign,val,60', 'd,img/b.jpg,img/a.png,,malignant,test,40'];
    const fields = { name: 'views', viewColumns: 'view_cc, view_mlo', maskColumn: 'mask' };
    const res = await upload(writeZip(datasetEntries('', csv)), fields);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ numSamples: 4, trainSamples: 2 });
    // The view and mask path columns are not clinical columns.
    expect(Object.keys(res.body.statistics.clinical)).toEqual(['age']);
    // Six view images are there (two cells are empty); masks are not counted as images.
    expect(res.body.statistics.images.formats).toEqual({ png: 4, jpeg: 2 });
    const broken = await upload(writeZip(datasetEntries('', csv.map((l, i) => (i === 3 ? l.replace(',img/d.png,benign', ',img/zz.png,benign') : l)))), fields);
    expect(broken.status).toBe(422);
    expect(broken.body.location).toEqual({ code: 'IMAGE_NOT_FOUND', file: 'clinical.csv', line: 4, column: 'mask' });
    const one = await upload(writeZip(datasetEntries('', csv)), { name: 'one view', viewColumns: 'view_cc' });
    expect(one.status).toBe(400);
    expect(one.body.details[0]).toMatchObject({ field: 'body.viewColumns', message: expect.stringContaining('at least 2 columns') });
  });

  it('refuses a path traversal entry, naming it, and leaves nothing behind', async () => {
    const [rows, folders] = [await datasetCount(), storedFolders()];
    const res = await upload(writeZip([...datasetEntries(), { name: 'img/../../../escape.txt', data: 'x' }]), { name: 'evil' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      statusCode: 400,
      details: [{ field: 'file', message: 'entry "img/../../../escape.txt" contains ".." and would be written outside the data set folder' }],
      location: { code: 'ENTRY_UNSAFE', entry: 'img/../../../escape.txt' },
    });
    expect(existsSync(join(artifacts, 'escape.txt'))).toBe(false);
    await expectNothingLeft(rows, folders);
  });

  it('refuses a symlink entry', async () => {
    const [rows, folders] = [await datasetCount(), storedFolders()];
    const res = await upload(writeTar([...datasetEntries(), { name: 'img/e.png', type: 'symlink', linkpath: '/etc/passwd' }]), { name: 'link' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('file: entry "img/e.png" is a symbolic link to "/etc/passwd"; archives may hold only files and folders');
    await expectNothingLeft(rows, folders);
  });

  it('413 for an archive over DATASET_UPLOAD_LIMIT_BYTES, and for one that unpacks past the limit', async () => {
    const [rows, folders] = [await datasetCount(), storedFolders()];
    const big = await upload(writeZip([...datasetEntries(), { name: 'noise.bin', data: randomBytes(UPLOAD_LIMIT) }]), { name: 'big' });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ details: [{ field: 'file', message: `larger than the upload limit of ${UPLOAD_LIMIT} bytes (DATASET_UPLOAD_LIMIT_BYTES)` }] });
    // Declared far past the limit (more than the 4 MiB margin for fields): refused before it is read.
    const huge = await upload(randomBytes(6 * 1024 * 1024), { name: 'huge' });
    expect(huge.status).toBe(413);
    expect(huge.body.details).toEqual([{ field: 'file', message: `larger than the upload limit of ${UPLOAD_LIMIT} bytes (DATASET_UPLOAD_LIMIT_BYTES)` }]);
    // A bomb: 1 MiB of zeros is about 1 KiB compressed.
    const bomb = await upload(writeTar([...datasetEntries(), { name: 'zeros.bin', data: Buffer.alloc(1024 * 1024) }]), { name: 'bomb' });
    expect(bomb.status).toBe(413);
    expect(bomb.body).toMatchObject({ location: { code: 'TOO_LARGE', entry: 'zeros.bin' }, message: expect.stringMatching(new RegExp(`limit of ${UNPACKED_LIMIT} bytes`)) });
    await expectNothingLeft(rows, folders);
  });

  it('422 naming the file, line and column for a bad value, a missing image and an unknown label', async () => {
    const [rows, folders] = [await datasetCount(), storedFolders()];
    const badValue = await upload(writeZip(datasetEntries('ds/', CSV.map((l, i) => (i === 3 ? l.replace(',60,', ',sixty,') : l)))), { name: 'bad' });
    expect(badValue.status).toBe(422);
    expect(badValue.body).toMatchObject({
      statusCode: 422,
      error: 'UNPROCESSABLE_ENTITY',
      details: [{ field: 'file', message: 'the data set is not valid: ds/clinical.csv, line 4, column "age": "sixty" is not a number (leave the cell empty or write NA if it is missing)' }],
      location: { code: 'VALUE_NOT_NUMERIC', file: 'ds/clinical.csv', line: 4, column: 'age' },
    });
    const missing = await upload(writeTar(datasetEntries('', CSV, ['img/c.dcm'])), { name: 'missing' });
    expect(missing.status).toBe(422);
    expect(missing.body.details[0].message).toBe('the data set is not valid: clinical.csv, line 4, column "image": image img/c.dcm does not exist');
    expect(missing.body.location).toEqual({ code: 'IMAGE_NOT_FOUND', file: 'clinical.csv', line: 4, column: 'image' });
    const unknown = await upload(writeZip(datasetEntries()), { name: 'labels', classNames: 'benign,malignnt' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.location).toEqual({ code: 'LABEL_INVALID', file: 'clinical.csv', line: 3, column: 'label' });
    const outside = await upload(writeZip(datasetEntries('', CSV.map((l) => l.replace('img/d.png', '/etc/hostname')))), { name: 'outside' });
    expect(outside.status).toBe(422);
    expect(outside.body.location).toMatchObject({ code: 'IMAGE_OUTSIDE_DATASET', line: 5 });
    await expectNothingLeft(rows, folders);
  });

  it('only writers may upload; bad requests are 4xx naming the field', async () => {
    const [rows, folders] = [await datasetCount(), storedFolders()];
    const forbidden = await upload(writeZip(datasetEntries()), { name: 'nope' }, { key: viewer });
    expect(forbidden.status).toBe(403);
    expect((await upload(writeZip(datasetEntries()), { name: 'nope' }, { key: 'not-a-key-0123456789abcdef0123456789' })).status).toBe(401);
    const noFile = await upload(undefined, { name: 'x' });
    expect(noFile).toMatchObject({ status: 400, body: { details: [{ field: 'file', message: 'required' }] } });
    const noName = await upload(writeZip(datasetEntries()), {});
    expect(noName.status).toBe(400);
    expect(noName.body.details).toEqual([expect.objectContaining({ field: 'body.name' })]);
    const notArchive = await upload(Buffer.from(CSV.join('\n')), { name: 'csv' }, { fileName: 'clinical.csv' });
    expect(notArchive).toMatchObject({ status: 415, body: { location: { code: 'ARCHIVE_UNSUPPORTED' } } });
    const json = await h.api('POST', '/api/v1/datasets/upload', { key: member, body: { name: 'x' } });
    expect(json.status).toBe(415);
    await expectNothingLeft(rows, folders);
  });

  it('an Idempotency-Key retry returns the first dataset, another archive under the key is a 422; deleting an uploaded dataset removes its files', async () => {
    const rows = await datasetCount();
    const headers = { 'idempotency-key': 'upload-once-1' };
    const first = await upload(writeZip(datasetEntries()), { name: 'once' }, { headers });
    const again = await upload(writeZip(datasetEntries()), { name: 'once' }, { headers });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    // The archive's digest is part of the request: another archive under the same key is refused.
    const other = await upload(writeTar(datasetEntries()), { name: 'once' }, { headers });
    expect(other.status).toBe(422);
    expect(other.body.details).toEqual([{ field: 'Idempotency-Key', message: 'reused for a different request' }]);
    expect(await datasetCount()).toBe(rows + 1);
    await noPendingUploads();
    expect(storedFolders()).toContain(first.body.id);

    expect((await h.api('DELETE', `/api/v1/datasets/${first.body.id}`, { key: member })).status).toBe(204);
    expect(storedFolders()).not.toContain(first.body.id);
  });

  it('stores zips of stored, deflated and mixed entries (the documented zip -r recipe) and a plain tar, each answered promptly with nothing left open', async () => {
    // Issue #17: `zip -r` stores the images (they do not shrink); a stored entry never answered and held the archive open.
    const src = mkdtempSync(join(tmpdir(), 'mf-upload-src-'));
    for (const e of datasetEntries()) {
      mkdirSync(dirname(join(src, e.name)), { recursive: true });
      writeFileSync(join(src, e.name), e.data!);
    }
    execFileSync('zip', ['-q', '-r', 'recipe.zip', 'clinical.csv', 'img'], { cwd: src });
    const recipe = readFileSync(join(src, 'recipe.zip'));
    rmSync(src, { recursive: true, force: true });
    const methods = Object.values(zipMethods(recipe));
    expect(methods).toContain(0);
    expect(methods).toContain(8);
    const archives: [string, Buffer][] = [
      ['stored', writeZip(datasetEntries().map((e) => ({ ...e, method: 'store' })))],
      ['deflated', writeZip(datasetEntries().map((e) => ({ ...e, method: 'deflate' })))],
      ['mixed', recipe],
      ['tar', writeTar(datasetEntries('plain/'), false)],
    ];
    for (const [kind, archive] of archives) {
      const res = await upload(archive, { name: kind });
      expect([kind, res.status]).toEqual([kind, 201]);
      expect(res.body).toMatchObject({ numSamples: 4, numClasses: 2, statistics: { images: { formats: { png: 2, jpeg: 1, dicom: 1 } } } });
    }
    await noPendingUploads();
    expect(openFilesUnder(artifacts)).toEqual([]);
  });

  it('422 for labels of a single class, naming the column; 400 for a single class name', async () => {
    const [rows, folders] = [await datasetCount(), storedFolders()];
    const oneClass = await upload(writeZip(datasetEntries('', CSV.map((l) => l.replace('malignant', 'benign')))), { name: 'one class' });
    expect(oneClass.status).toBe(422);
    expect(oneClass.body).toMatchObject({
      details: [{ field: 'file', message: 'the data set is not valid: clinical.csv, column "label": every one of the 4 rows has the label "benign": a classifier needs rows of at least 2 classes' }],
      location: { code: 'LABEL_SINGLE_CLASS', file: 'clinical.csv', column: 'label' },
    });
    const renamed = await upload(writeZip(datasetEntries('', CSV.map((l, i) => (i === 0 ? l.replace(',label,', ',diagnosis,') : l.replace('malignant', 'benign'))))), {
      name: 'one class',
      labelColumn: 'diagnosis',
      classNames: 'benign,malignant',
    });
    expect(renamed.status).toBe(422);
    expect(renamed.body.location).toEqual({ code: 'LABEL_SINGLE_CLASS', file: 'clinical.csv', column: 'diagnosis' });
    expect(renamed.body.details[0].message).toMatch(/\(no row is malignant\)/);
    const oneName = await upload(writeZip(datasetEntries()), { name: 'one name', classNames: 'benign' });
    expect(oneName.status).toBe(400);
    expect(oneName.body.details).toEqual([expect.objectContaining({ field: 'body.classNames', message: expect.stringContaining('at least 2 classes') })]);
    await expectNothingLeft(rows, folders);
  });

  it('documents the multipart body in OpenAPI', async () => {
    const doc = (await h.api('GET', '/api/docs/openapi.json')).body;
    const body = doc.paths['/api/v1/datasets/upload'].post.requestBody.content['multipart/form-data'].schema;
    expect(body.required).toEqual(expect.arrayContaining(['file', 'name']));
    expect(body.properties.file).toMatchObject({ type: 'string', format: 'binary' });
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['imageColumn', 'labelColumn', 'splitColumn', 'classNames', 'tags']));
  });
});

describe('dataset upload bombs under the default unpacked-size limit (8 GiB)', () => {
  const roomy = mkdtempSync(join(tmpdir(), 'mf-upload-bombs-'));
  const roomyDatasets = join(roomy, 'datasets');
  let h: GatewayHarness;
  let member: string;

  beforeAll(async () => {
    // Only the upload limit is lowered; every unpacking limit is the default, so only the compression ratio can stop these.
    h = await startGateway({ ARTIFACTS_DIR: roomy, DATASET_UPLOAD_LIMIT_BYTES: String(8 * 1024 * 1024) });
    member = await h.createKey('member', 'mia');
  });
  afterAll(async () => {
    await h.close();
    rmSync(roomy, { recursive: true, force: true });
  });

  /** Refused with `status`, and nothing left: no row, no folder, no temporary file, nothing open (deleted files included). */
  async function expectRefused(archive: Buffer, status: number) {
    const res = await postUpload(h, member, archive, { name: 'bomb' });
    expect([res.status, res.body.location?.code]).toEqual([status, expect.any(String)]);
    expect((await h.api('GET', '/api/v1/datasets', { key: member })).body.total).toBe(0);
    expect(existsSync(roomyDatasets) ? readdirSync(roomyDatasets).filter((d) => d !== '.uploads') : []).toEqual([]);
    await waitFor('the temporary upload file to be removed', async () => !existsSync(join(roomyDatasets, '.uploads')) || readdirSync(join(roomyDatasets, '.uploads')).length === 0, 5000, 20);
    expect(openFilesUnder(roomy)).toEqual([]);
    return res.body;
  }

  it('refuses a zip of 1 GiB of zeros in about 1 MB from its declared sizes, before writing anything', async () => {
    const zeros = await deflatedZeros(1024 ** 3);
    const body = await expectRefused(writeZip([...datasetEntries(), { name: 'zeros.bin', deflated: zeros }]), 413);
    expect(body.location).toEqual({ code: 'COMPRESSION_RATIO', entry: 'zeros.bin' });
    expect(body.details[0].message).toMatch(/^entry "zeros\.bin" declares 1073741824 bytes, which would unpack the archive to \d+ bytes, more than 100 times the archive's \d+ bytes \(DATASET_MAX_COMPRESSION_RATIO\); is it a compression bomb\?$/);
  });

  it('refuses a zip whose entry holds more than it declares, and tar.gz bombs whether or not the gzip trailer tells the truth', async () => {
    const zeros = await deflatedZeros(256 * 1024 * 1024);
    const lyingZip = await expectRefused(writeZip([...datasetEntries(), { name: 'zeros.bin', deflated: zeros, declaredSize: 1000 }]), 400);
    expect(lyingZip.location).toEqual({ code: 'ARCHIVE_CORRUPT', entry: 'zeros.bin' });
    const tgz = writeTar([...datasetEntries(), { name: 'zeros.bin', data: Buffer.alloc(64 * 1024 * 1024) }]);
    expect((await expectRefused(tgz, 413)).location).toEqual({ code: 'COMPRESSION_RATIO' });
    const lyingTrailer = Buffer.from(tgz);
    lyingTrailer.writeUInt32LE(1000, lyingTrailer.length - 4);
    expect((await expectRefused(lyingTrailer, 413)).location).toEqual({ code: 'COMPRESSION_RATIO', entry: 'zeros.bin' });
  });
});
