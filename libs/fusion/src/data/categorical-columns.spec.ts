import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from './dataset-error.js';
import { loadDataset, type DatasetReadOptions } from './dataset-loader.js';
import { encodeGrayPng } from './png-codec.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A data set folder with this CSV and a 4x4 grey PNG for every image it names. */
function dataset(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-categorical-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'img'));
  writeFileSync(join(dir, 'clinical.csv'), `${lines.join('\n')}\n`);
  for (const name of new Set(lines.slice(1).map((l) => l.split(',')[1]!))) writeFileSync(join(dir, name), encodeGrayPng(new Uint8Array(16).fill(80), 4, 4));
  return dir;
}

const read: DatasetReadOptions = { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: 4, imageChannels: 1 };

const CSV = [
  'case_id,image,label,split,age,sex,site',
  'a,img/a.png,0,train,50,M,north',
  'b,img/b.png,1,train,70,F,south',
  'c,img/c.png,1,train,,NA,north',
  'd,img/d.png,0,train,40,F,',
  'e,img/e.png,1,val,60,M,east',
  'f,img/f.png,0,test,45,X,south',
];

describe('categorical columns in the loader', () => {
  it('builds sorted vocabularies from the training split and encodes missing and unseen values as 0', async () => {
    const d = await loadDataset(dataset(CSV), { ...read, categoricalColumns: ['sex', 'site'] });
    expect(d.categoricalColumns).toEqual(['sex', 'site']);
    // "east" and "X" appear only outside training: they are not in the vocabulary.
    expect(d.categoricalVocabularies).toEqual([['F', 'M'], ['north', 'south']]);
    // Row-major N x C; F = 1, M = 2; north = 1, south = 2; NA and empty = 0.
    expect(Array.from(d.train.categorical)).toEqual([2, 1, 1, 2, 0, 1, 1, 0]);
    expect(Array.from(d.val.categorical)).toEqual([2, 0]);
    expect(Array.from(d.test.categorical)).toEqual([0, 2]);
  });

  it('keeps rows with missing values: numeric ones masked, categorical ones index 0', async () => {
    const d = await loadDataset(dataset(CSV), { ...read, categoricalColumns: ['sex', 'site'] });
    expect(d.train.count).toBe(4);
    expect(d.clinicalColumns).toEqual(['age']);
    expect(Array.from(d.train.clinicalMask)).toEqual([1, 1, 0, 1]);
    expect(d.train.clinical[2]).toBe(0);
  });

  it('leaves non-numeric columns out of the defaults when they are not named categorical', async () => {
    const d = await loadDataset(dataset(CSV), read);
    expect(d.clinicalColumns).toEqual(['age']);
    expect(d.categoricalColumns).toEqual([]);
    expect(d.train.categorical).toHaveLength(0);
  });

  it('a categorical column is never also a numeric one', async () => {
    const csv = CSV.map((l, i) => (i === 0 ? `${l},stage` : `${l},${i % 3}`));
    const d = await loadDataset(dataset(csv), { ...read, categoricalColumns: ['stage'] });
    expect(d.clinicalColumns).toEqual(['age']);
    expect(d.categoricalVocabularies).toEqual([['0', '1', '2']]);
    await expect(loadDataset(dataset(csv), { ...read, clinicalColumns: ['age', 'stage'], categoricalColumns: ['stage'] })).rejects.toThrow(/categoricalColumns must not include .*"stage"/);
    await expect(loadDataset(dataset(csv), { ...read, categoricalColumns: ['label'] })).rejects.toThrow(/"label"/);
  });

  it('names the missing column when a categorical column does not exist', async () => {
    const err = await loadDataset(dataset(CSV), { ...read, categoricalColumns: ['smoker'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).code).toBe('COLUMN_MISSING');
    expect((err as DatasetError).column).toBe('smoker');
  });

  it('still reports a stray word in a numeric column with file, line and column', async () => {
    const csv = [...CSV];
    csv[2] = 'b,img/b.png,1,train,seventy,F,south';
    const err = await loadDataset(dataset(csv), { ...read, categoricalColumns: ['sex'] }).catch((e: unknown) => e);
    expect((err as DatasetError).code).toBe('VALUE_NOT_NUMERIC');
    expect((err as DatasetError).message).toMatch(/clinical\.csv, line 3, column "age"/);
  });
});
