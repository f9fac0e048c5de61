import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from './dataset-error.js';
import { loadDataset, type DatasetReadOptions } from './dataset-loader.js';
import { TRANSFER_SYNTAX, writeDicom } from '@medfusion/testing';
import { encodeJpeg } from './jpeg-codec.js';
import { encodeGrayPng } from './png-codec.js';
import { SYNTHETIC_CLINICAL_COLUMNS } from './synthetic-clinical.js';
import { generateSyntheticDataset } from './synthetic-dataset.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'mf-loader-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const read: DatasetReadOptions = { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: 4, imageChannels: 1 };

/** A hand-made data set: `lines` is the CSV; each image named in it is a 4x4 grey PNG of value 10*(k+1) unless `images` says otherwise. */
function handMade(lines: string[], images: Record<string, Buffer | null> = {}): string {
  const dir = tmp();
  mkdirSync(join(dir, 'img'));
  writeFileSync(join(dir, 'clinical.csv'), `${lines.join('\n')}\n`);
  const named = [...new Set(lines.slice(1).map((l) => l.split(',')[1]!))];
  named.forEach((name, k) => {
    const bytes = name in images ? images[name] : encodeGrayPng(new Uint8Array(16).fill(10 * (k + 1)), 4, 4);
    if (bytes) writeFileSync(join(dir, name), bytes);
  });
  return dir;
}

const SMALL = [
  'case_id,image,label,split,age,crp',
  'a,img/a.png,0,train,50,1.5',
  'b,img/b.png,1,train,70,2.5',
  'c,img/c.png,1,val,60,3',
  'd,img/d.png,0,test,40,0.5',
];

async function loadError(dir: string, opts: Partial<DatasetReadOptions> = {}): Promise<DatasetError> {
  const err: unknown = await loadDataset(dir, { ...read, ...opts }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DatasetError);
  return err as DatasetError;
}

describe('loadDataset on a generated data set', () => {
  it('round-trips: shapes, train-split standardisation, and ids aligned with the CSV labels', async () => {
    const dir = tmp();
    const stats = await generateSyntheticDataset({ outDir: dir, numCases: 60, seed: 2 });
    const d = await loadDataset(dir, { ...read, imageSize: 64 });
    expect([d.train.count, d.val.count, d.test.count]).toEqual([stats.trainSamples, stats.valSamples, stats.testSamples]);
    expect(d.clinicalColumns).toEqual([...SYNTHETIC_CLINICAL_COLUMNS]);
    expect([d.numClasses, d.classNames]).toEqual([2, ['0', '1']]);
    const F = 16;
    for (const s of [d.train, d.val, d.test]) {
      expect([s.ids.length, s.images.length, s.clinical.length, s.clinicalMask.length, s.labels.length]).toEqual([s.count, s.count * 64 * 64, s.count * F, s.count * F, s.count]);
      expect(s.images.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    // Over the present train values every column has mean 0 and SD 1.
    for (let f = 0; f < F; f++) {
      const v = Array.from({ length: d.train.count }, (_, i) => i).filter((i) => d.train.clinicalMask[i * F + f] === 1).map((i) => d.train.clinical[i * F + f]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      expect(mean).toBeCloseTo(0, 4);
      expect(sd).toBeCloseTo(1, 4);
    }
    const csv = new Map(readFileSync(join(dir, 'clinical.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).map((c) => [c[0]!, { label: Number(c[2]), split: c[3] }]));
    for (const [name, s] of [['train', d.train], ['val', d.val], ['test', d.test]] as const) {
      s.ids.forEach((id, k) => expect(csv.get(id)).toEqual({ label: s.labels[k], split: name }));
    }
  });
});

describe('loadDataset on hand-made data', () => {
  it('standardises with the train split only and keeps CSV order', async () => {
    const d = await loadDataset(handMade(SMALL), read);
    expect(d.train.ids).toEqual(['a', 'b']);
    expect(d.clinicalMean).toEqual([60, 2]);
    expect(d.clinicalStd).toEqual([10, 0.5]);
    expect(Array.from(d.val.clinical)).toEqual([0, 2]);
    expect(Array.from(d.test.clinical)).toEqual([-2, -3]);
    expect(Array.from(d.train.labels)).toEqual([0, 1]);
    // 4x4 grey images of 10, 20, ...: one channel, pixel / 255.
    expect(d.test.images[0]).toBeCloseTo(40 / 255, 6);
  });

  it('imputes empty and NA cells with the train mean and masks them, keeping the row', async () => {
    const d = await loadDataset(handMade([...SMALL.slice(0, 3), 'e,img/e.png,0,train,,NA', ...SMALL.slice(3)]), read);
    expect(d.train.ids).toEqual(['a', 'b', 'e']);
    expect(Array.from(d.train.clinicalMask)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(Array.from(d.train.clinical.subarray(4))).toEqual([0, 0]);
    expect(d.clinicalMean).toEqual([60, 2]);
  });

  it('maps text labels in sorted order and uses integer labels as they are', async () => {
    const named = SMALL.map((l, i) => (i === 0 ? l : l.replace(/,([01]),/, (_m, y: string) => (y === '1' ? ',malignant,' : ',benign,'))));
    const d = await loadDataset(handMade(named), read);
    expect(d.classNames).toEqual(['benign', 'malignant']);
    expect(Array.from(d.train.labels)).toEqual([0, 1]);
  });

  it('resizes (nearest neighbour) and converts grey to three channels', async () => {
    const pixels = Uint8Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 0 : 255)); // left half black, right half white
    const dir = handMade(SMALL, { 'img/a.png': encodeGrayPng(pixels, 4, 4) });
    const d = await loadDataset(dir, { ...read, imageSize: 2, imageChannels: 3 });
    expect(Array.from(d.train.images.subarray(0, 12))).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect(d.train.images).toHaveLength(2 * 2 * 2 * 3);
  });

  it('uses only numeric columns by default and exactly the listed ones when given', async () => {
    const withText = SMALL.map((l, i) => `${l},${i === 0 ? 'notes' : 'seen'}`);
    expect((await loadDataset(handMade(withText), read)).clinicalColumns).toEqual(['age', 'crp']);
    expect((await loadDataset(handMade(SMALL), { ...read, clinicalColumns: ['crp'] })).clinicalColumns).toEqual(['crp']);
    await expect(loadDataset(handMade(SMALL), { ...read, clinicalColumns: ['age', 'label'] })).rejects.toThrow(/must not include .*"label"/);
  });

  it('reads PNG, JPEG and DICOM images side by side and reports each one\'s format and size', async () => {
    const lines = SMALL.map((l) => l.replace('img/b.png', 'img/b.jpg').replace('img/c.png', 'img/c.dcm'));
    const grey = (v: number, w: number, h: number) => Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : v));
    // CT-like DICOM: stored 1064 - 1024 = 40 HU, the centre of its 40/400 window -> grey 128.
    const dicom = writeDicom({ rows: 2, columns: 3, pixels: new Array(6).fill(1064), bitsAllocated: 16, pixelRepresentation: 1, rescaleIntercept: -1024, windowCenter: 40, windowWidth: 400 });
    const dir = handMade(lines, { 'img/b.jpg': encodeJpeg(grey(200, 8, 8), 8, 8, 100), 'img/c.dcm': dicom });
    const seen: unknown[] = [];
    const d = await loadDataset(dir, { ...read, imageSize: 2, onImage: (img, line) => seen.push([line, img.format, img.width, img.height]) });
    expect(Math.abs(d.train.images[4]! * 255 - 200)).toBeLessThanOrEqual(2);
    expect(d.val.images[0]! * 255).toBeCloseTo(128, 3);
    expect(seen.sort()).toEqual([[2, 'png', 4, 4], [3, 'jpeg', 8, 8], [4, 'dicom', 3, 2], [5, 'png', 4, 4]]);
  });

  it('takes the only .csv when there is no clinical.csv', async () => {
    const dir = handMade(SMALL);
    writeFileSync(join(dir, 'patients.csv'), readFileSync(join(dir, 'clinical.csv')));
    rmSync(join(dir, 'clinical.csv'));
    expect((await loadDataset(dir, read)).train.count).toBe(2);
  });
});

describe('loadDataset errors name the file, line and column', () => {
  it('no CSV in the folder', async () => {
    const dir = tmp();
    const err = await loadError(dir);
    expect(err).toMatchObject({ code: 'CSV_NOT_FOUND', file: dir, row: undefined, column: undefined });
    expect(err.message).toBe(`no clinical.csv in ${dir} (and no other .csv file there)`);
  });

  it('a missing column, listing the columns there are', async () => {
    const dir = handMade(SMALL.map((l, i) => (i === 0 ? l.replace('label', 'diagnosis') : l)));
    const err = await loadError(dir);
    expect(err).toMatchObject({ code: 'COLUMN_MISSING', file: join(dir, 'clinical.csv'), row: 1, column: 'label' });
    expect(err.message).toBe(`${join(dir, 'clinical.csv')}, line 1, column "label": has no column "label" (columns: case_id, image, diagnosis, split, age, crp)`);
  });

  it('a non-numeric clinical value', async () => {
    const dir = handMade(SMALL.map((l, i) => (i === 3 ? l.replace(',60,', ',sixty,') : l)));
    const err = await loadError(dir);
    expect(err).toMatchObject({ code: 'VALUE_NOT_NUMERIC', row: 4, column: 'age' });
    expect(err.message).toMatch(/clinical\.csv, line 4, column "age": "sixty" is not a number/);
  });

  it('an unknown split', async () => {
    const err = await loadError(handMade(SMALL.map((l, i) => (i === 2 ? l.replace(',train,', ',holdout,') : l))));
    expect(err).toMatchObject({ code: 'SPLIT_UNKNOWN', row: 3, column: 'split' });
    expect(err.message).toMatch(/line 3, column "split": unknown split "holdout" \(use train, val or test\)/);
  });

  it('an image file that does not exist', async () => {
    const dir = handMade(SMALL, { 'img/c.png': null });
    const err = await loadError(dir);
    expect(err).toMatchObject({ code: 'IMAGE_NOT_FOUND', row: 4, column: 'image' });
    expect(err.message).toBe(`${join(dir, 'clinical.csv')}, line 4, column "image": image ${join(dir, 'img/c.png')} does not exist`);
  });

  it('an image that cannot be decoded: a truncated PNG, a truncated JPEG, a compressed DICOM', async () => {
    const png = encodeGrayPng(new Uint8Array(16), 4, 4);
    const broken = await loadError(handMade(SMALL, { 'img/b.png': png.subarray(0, 40) }));
    expect(broken).toMatchObject({ code: 'IMAGE_UNDECODABLE', row: 3, column: 'image' });
    expect(broken.message).toMatch(/img\/b\.png cannot be decoded/);
    const jpegBytes = encodeJpeg(new Uint8Array(64).fill(255), 4, 4).subarray(0, 20);
    const jpeg = await loadError(handMade(SMALL.map((l) => l.replace('img/d.png', 'img/d.jpg')), { 'img/d.jpg': jpegBytes }));
    expect(jpeg).toMatchObject({ code: 'IMAGE_UNDECODABLE', row: 5, column: 'image' });
    expect(jpeg.message).toMatch(/img\/d\.jpg cannot be decoded as JPEG/);
    const dicomBytes = writeDicom({ rows: 4, columns: 4, pixels: new Array(16).fill(0), bitsAllocated: 8, transferSyntax: TRANSFER_SYNTAX.rle });
    const dicom = await loadError(handMade(SMALL.map((l) => l.replace('img/c.png', 'img/c.dcm')), { 'img/c.dcm': dicomBytes }));
    expect(dicom).toMatchObject({ code: 'IMAGE_UNSUPPORTED', row: 4, column: 'image' });
    expect(dicom.message).toMatch(/line 4, column "image": DICOM file .*img\/c\.dcm uses the compressed transfer syntax 1\.2\.840\.10008\.1\.2\.5 \(RLE Lossless\)/);
  });

  it('a missing JPEG or DICOM file', async () => {
    const lines = SMALL.map((l) => l.replace('img/b.png', 'img/b.jpg').replace('img/c.png', 'img/c.dcm'));
    const jpeg = await loadError(handMade(lines, { 'img/b.jpg': null }));
    expect(jpeg).toMatchObject({ code: 'IMAGE_NOT_FOUND', row: 3, column: 'image', message: expect.stringMatching(/img\/b\.jpg does not exist$/) });
    const dicom = await loadError(handMade(lines, { 'img/c.dcm': null }));
    expect(dicom).toMatchObject({ code: 'IMAGE_NOT_FOUND', row: 4, column: 'image', message: expect.stringMatching(/img\/c\.dcm does not exist$/) });
  });

  it('an image path outside the folder, when the folder is untrusted', async () => {
    const dir = handMade(SMALL);
    writeFileSync(join(dir, 'clinical.csv'), readFileSync(join(dir, 'clinical.csv'), 'utf8').replace('img/c.png', '../elsewhere.png'));
    const err = await loadError(dir, { imagesInsideFolder: true });
    expect(err).toMatchObject({ code: 'IMAGE_OUTSIDE_DATASET', row: 4, column: 'image' });
    expect(err.message).toMatch(/line 4, column "image": image path "\.\.\/elsewhere\.png" leads outside the data set folder/);
  });

  it('a label outside the given class names', async () => {
    const named = SMALL.map((l, i) => (i === 0 ? l : l.replace(/,([01]),/, (_m, y: string) => (y === '1' ? ',malignant,' : ',benign,')))).map((l, i) => (i === 3 ? l.replace('malignant', 'malgnant') : l));
    const err = await loadError(handMade(named), { classNames: ['benign', 'malignant'] });
    expect(err).toMatchObject({ code: 'LABEL_INVALID', row: 4, column: 'label' });
    expect(err.message).toMatch(/line 4, column "label": unknown label "malgnant" \(the classes are benign, malignant\)/);
  });

  it('an empty train split', async () => {
    const err = await loadError(handMade(SMALL.map((l) => l.replace(',train,', ',val,'))));
    expect(err).toMatchObject({ code: 'SPLIT_EMPTY', column: 'split' });
    expect(err.message).toMatch(/clinical\.csv, column "split": has no row whose split is "train"/);
  });

  it('labels of a single class, inferred or among the given class names', async () => {
    const zeros = await loadError(handMade(SMALL.map((l, i) => (i > 0 ? l.replace(/,1,/, ',0,') : l))));
    expect(zeros).toMatchObject({ code: 'LABEL_SINGLE_CLASS', column: 'label', row: undefined });
    expect(zeros.message).toBe(`${zeros.file}, column "label": every one of the 4 rows has the label "0": a classifier needs rows of at least 2 classes`);
    const named = SMALL.map((l, i) => (i > 0 ? l.replace(/,[01],/, ',benign,') : l));
    const known = await loadError(handMade(named), { classNames: ['benign', 'malignant'] });
    expect(known).toMatchObject({ code: 'LABEL_SINGLE_CLASS', column: 'label' });
    expect(known.message).toMatch(/column "label": every one of the 4 rows has the label "benign" \(no row is malignant\): a classifier needs rows of at least 2 classes$/);
  });

  it('integer labels with a gap, and an empty label', async () => {
    const gap = await loadError(handMade(SMALL.map((l, i) => (i > 0 ? l.replace(/,0,/, ',2,') : l))));
    expect(gap).toMatchObject({ code: 'LABEL_INVALID', column: 'label' });
    expect(gap.message).toMatch(/integer labels must be 0\.\.K-1 without gaps; found 1, 2, missing 0/);
    const empty = await loadError(handMade(SMALL.map((l, i) => (i === 4 ? l.replace(',0,test', ',,test') : l))));
    expect(empty).toMatchObject({ code: 'LABEL_INVALID', row: 5, column: 'label' });
  });

  it('a row with the wrong number of cells', async () => {
    const err = await loadError(handMade([...SMALL, 'e,img/a.png,0,train,55']));
    expect(err).toMatchObject({ code: 'CSV_UNREADABLE', row: 6 });
    expect(err.message).toMatch(/line 6: is not a readable CSV: Invalid Record Length/);
  });
});
