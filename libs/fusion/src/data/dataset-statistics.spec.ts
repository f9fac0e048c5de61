import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDicom } from '@medfusion/testing';
import { DatasetError } from './dataset-error.js';
import { summarizeDataset } from './dataset-statistics.js';
import { encodeJpeg } from './jpeg-codec.js';
import { encodeGrayPng } from './png-codec.js';

const dir = mkdtempSync(join(tmpdir(), 'mf-stats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cols = { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split' };

beforeAll(() => {
  mkdirSync(join(dir, 'img'));
  writeFileSync(join(dir, 'img/a.png'), encodeGrayPng(new Uint8Array(4 * 6), 4, 6));
  writeFileSync(join(dir, 'img/b.jpg'), encodeJpeg(new Uint8Array(16 * 8 * 4).fill(200), 16, 8));
  writeFileSync(join(dir, 'img/c.dcm'), writeDicom({ rows: 3, columns: 2, pixels: [1, 2, 3, 4, 5, 6], bitsAllocated: 16 }));
  writeFileSync(
    join(dir, 'clinical.csv'),
    ['case_id,image,label,split,age,crp,note', 'a,img/a.png,benign,train,50,1,x', 'b,img/b.jpg,malignant,train,70,NA,y', 'c,img/c.dcm,benign,val,60,,z', 'd,img/a.png,benign,test,40,3,w', ''].join('\n'),
  );
});

describe('summarizeDataset', () => {
  it('counts splits and classes, and summarises every clinical column and the images', async () => {
    const s = await summarizeDataset(dir, cols);
    expect(s).toMatchObject({ numSamples: 4, numClasses: 2, trainSamples: 2, valSamples: 1, testSamples: 1, classDistribution: { benign: 3, malignant: 1 }, clinicalColumns: ['age', 'crp'] });
    // age: 50, 70, 60, 40 -> mean 55, population SD sqrt(125); crp: 1 and 3 present, NA and empty missing.
    expect(s.statistics.clinical.age).toEqual({ count: 4, missing: 0, mean: 55, std: Math.sqrt(125), min: 40, max: 70 });
    expect(s.statistics.clinical.crp).toEqual({ count: 2, missing: 2, mean: 2, std: 1, min: 1, max: 3 });
    expect(s.statistics.images).toEqual({ formats: { png: 2, jpeg: 1, dicom: 1 }, minWidth: 2, maxWidth: 16, minHeight: 3, maxHeight: 8 });
  });

  it('is the loader: the first problem is a DatasetError naming file, line and column', async () => {
    const err: unknown = await summarizeDataset(dir, { ...cols, classNames: ['benign'] }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err).toMatchObject({ code: 'LABEL_INVALID', file: join(dir, 'clinical.csv'), row: 3, column: 'label' });
  });
});
