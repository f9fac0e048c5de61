import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from './dataset-error.js';
import { loadDataset, type DatasetReadOptions } from './dataset-loader.js';
import { generateSyntheticDataset } from './synthetic-dataset.js';

const SIZE = 16;
const base: DatasetReadOptions = { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: SIZE, imageChannels: 1 };
const multi: DatasetReadOptions = { ...base, viewColumns: ['image', 'view_2'], maskColumn: 'mask' };
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mf-views-'));
  await generateSyntheticDataset({ outDir: dir, numCases: 60, seed: 11, imageSize: SIZE, views: 2, masks: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CSV's train rows as header-keyed records, in file order. */
function trainRows(folder: string): Record<string, string>[] {
  const [head, ...rows] = readFileSync(join(folder, 'clinical.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  return rows.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i]!]))).filter((r) => r.split === 'train');
}

async function loadError(folder: string, opts: DatasetReadOptions): Promise<DatasetError> {
  const err = await loadDataset(folder, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  return err as DatasetError;
}

describe('multi-view and region-mask columns', () => {
  it('reads N x V images with a view mask, keeps rows with a missing view, and reads optional masks', async () => {
    const data = await loadDataset(dir, multi);
    const rows = trainRows(dir);
    const { train } = data;
    const pixels = SIZE * SIZE;
    expect(train.count).toBe(rows.length);
    expect(train.images.length).toBe(rows.length * 2 * pixels);
    expect(Array.from(train.viewMask!)).toEqual(rows.flatMap((r) => [1, r.view_2 === '' ? 0 : 1]));
    expect(Array.from(train.hasRegionMask!)).toEqual(rows.map((r) => (r.mask === '' ? 0 : 1)));
    // The generator leaves some view and mask cells empty; the rows are still there.
    expect(rows.some((r) => r.view_2 === '')).toBe(true);
    expect(rows.some((r) => r.mask === '')).toBe(true);
    rows.forEach((r, k) => {
      const second = train.images.subarray((2 * k + 1) * pixels, (2 * k + 2) * pixels);
      if (r.view_2 === '') expect(second.every((v) => v === 0)).toBe(true);
      else expect(Math.max(...second)).toBeGreaterThan(0);
      if (r.mask === '') expect(train.regionMasks!.subarray(k * pixels, (k + 1) * pixels).every((v) => v === 0)).toBe(true);
    });
    // Image path columns are never clinical columns.
    expect(data.clinicalColumns).not.toContain('view_2');
    expect(data.clinicalColumns).not.toContain('mask');
  });

  it('masks cover the bright lesion of the first view', async () => {
    const { train } = await loadDataset(dir, multi);
    const pixels = SIZE * SIZE;
    let inside = 0;
    let insideN = 0;
    let outside = 0;
    let outsideN = 0;
    for (let k = 0; k < train.count; k++) {
      for (let p = 0; p < pixels; p++) {
        const m = train.regionMasks![k * pixels + p]!;
        const v = train.images[2 * k * pixels + p]!;
        if (!train.hasRegionMask![k]) continue;
        if (m > 0.5) (inside += v), insideN++;
        else (outside += v), outsideN++;
      }
    }
    expect(insideN).toBeGreaterThan(0);
    expect(inside / insideN).toBeGreaterThan(outside / outsideN + 0.25);
  });

  it('a one-image set loads as before: no view mask, no region masks', async () => {
    const data = await loadDataset(dir, base);
    expect(data.train.viewMask).toBeUndefined();
    expect(data.train.regionMasks).toBeUndefined();
    expect(data.train.images.length).toBe(data.train.count * SIZE * SIZE);
  });

  it('names the file, header line and column of a view or mask column that is not there', async () => {
    const noView = await loadError(dir, { ...multi, viewColumns: ['image', 'view_mlo'] });
    expect(noView.code).toBe('COLUMN_MISSING');
    expect(noView).toMatchObject({ file: join(dir, 'clinical.csv'), row: 1, column: 'view_mlo' });
    expect(noView.message).toContain('view_2');
    const noMask = await loadError(dir, { ...multi, maskColumn: 'lesion_mask' });
    expect(noMask).toMatchObject({ code: 'COLUMN_MISSING', row: 1, column: 'lesion_mask' });
  });

  it('names the row and column of a mask file that does not exist', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'mf-views-broken-'));
    try {
      await generateSyntheticDataset({ outDir: broken, numCases: 12, seed: 2, imageSize: SIZE, masks: true });
      const csv = readFileSync(join(broken, 'clinical.csv'), 'utf8').split('\n');
      const cols = csv[0]!.split(',');
      const cells = csv[3]!.split(',');
      cells[cols.indexOf('mask')] = 'masks/nowhere.png';
      csv[3] = cells.join(',');
      writeFileSync(join(broken, 'clinical.csv'), csv.join('\n'));
      const err = await loadError(broken, { ...base, maskColumn: 'mask' });
      expect(err).toMatchObject({ code: 'IMAGE_NOT_FOUND', row: 4, column: 'mask' });
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
