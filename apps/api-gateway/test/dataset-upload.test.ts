import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGrayPng, encodeJpeg } from '@medfusion/fusion';
import { waitFor, writeDicom, writeTar, writeZip, type ArchiveEntrySpec } from '@medfusion/testing';
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

  async function upload(archive: Buffer | undefined, fields: Record<string, string>, opts: { key?: string; fileName?: string; headers?: Record<string, string> } = {}) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (archive) form.append('file', new Blob([archive]), opts.fileName ?? 'dataset.zip');
    const res = await fetch(`${h.baseUrl}/api/v1/datasets/upload`, { method: 'POST', headers: { authorization: `Bearer ${opts.key ?? member}`, ...opts.headers }, body: form });
    return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  }

  async function datasetCount(): Promise<number> {
    return (await h.api('GET', '/api/v1/datasets', { key: member })).body.total;
  }

  /** A refused upload leaves nothing behind: no row, no unpacked folder, no temporary file. */
  async function expectNothingLeft(rowsBefore: number, foldersBefore: string[]) {
    expect(await datasetCount()).toBe(rowsBefore);
    expect(storedFolders().sort()).toEqual([...foldersBefore].sort());
    await noPendingUploads();
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

  it('documents the multipart body in OpenAPI', async () => {
    const doc = (await h.api('GET', '/api/docs/openapi.json')).body;
    const body = doc.paths['/api/v1/datasets/upload'].post.requestBody.content['multipart/form-data'].schema;
    expect(body.required).toEqual(expect.arrayContaining(['file', 'name']));
    expect(body.properties.file).toMatchObject({ type: 'string', format: 'binary' });
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['imageColumn', 'labelColumn', 'splitColumn', 'classNames', 'tags']));
  });
});
