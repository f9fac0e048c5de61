import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerDatasetSchema } from '@medfusion/contracts';
import { registrationOf } from './dataset-registration.js';
import { decodePng } from './png-codec.js';
import { SYNTHETIC_CLINICAL_COLUMNS } from './synthetic-clinical.js';
import { generateSyntheticDataset } from './synthetic-dataset.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'mf-synthetic-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const csvRows = (dir: string) => readFileSync(join(dir, 'clinical.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));

describe('generateSyntheticDataset', () => {
  it('writes byte-identical files for the same seed and different ones for another seed', async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    await generateSyntheticDataset({ outDir: a, numCases: 20, seed: 5 });
    await generateSyntheticDataset({ outDir: b, numCases: 20, seed: 5 });
    await generateSyntheticDataset({ outDir: c, numCases: 20, seed: 6 });
    const images = readdirSync(join(a, 'images')).sort();
    expect(images).toHaveLength(20);
    expect(readdirSync(join(b, 'images')).sort()).toEqual(images);
    for (const f of ['clinical.csv', 'dataset.json', ...images.map((i) => join('images', i))]) {
      expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f)))).toBe(true);
    }
    expect(readFileSync(join(c, 'clinical.csv')).equals(readFileSync(join(a, 'clinical.csv')))).toBe(false);
    expect(readFileSync(join(c, 'images', images[0]!)).equals(readFileSync(join(a, 'images', images[0]!)))).toBe(false);
  });

  it('returns stats whose splits and classes add up and match the CSV', async () => {
    const dir = tmp();
    const stats = await generateSyntheticDataset({ outDir: dir, numCases: 200, seed: 1 });
    expect(stats).toEqual({
      numSamples: 200, numClasses: 2, trainSamples: 140, valSamples: 30, testSamples: 30,
      classDistribution: stats.classDistribution, clinicalColumns: [...SYNTHETIC_CLINICAL_COLUMNS], imageSize: 64,
    });
    const [header, ...rows] = csvRows(dir);
    expect(header).toEqual(['case_id', 'image', 'label', 'split', ...SYNTHETIC_CLINICAL_COLUMNS]);
    expect(SYNTHETIC_CLINICAL_COLUMNS).toHaveLength(16);
    expect(rows[0]!.slice(0, 2)).toEqual(['case_00001', 'images/case_00001.png']);
    const count = (col: number, value: string) => rows.filter((r) => r[col] === value).length;
    expect([count(3, 'train'), count(3, 'val'), count(3, 'test')]).toEqual([140, 30, 30]);
    expect(stats.classDistribution).toEqual({ '0': count(2, '0'), '1': count(2, '1') });
    expect(stats.classDistribution['1']! / 200).toBeGreaterThanOrEqual(0.4);
    expect(stats.classDistribution['1']! / 200).toBeLessThanOrEqual(0.6);
    const json = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8'));
    expect(json.stats).toEqual(stats);
    expect(json.params).toMatchObject({ seed: 1, numCases: 200, imageSize: 64, columns: { clinical: [...SYNTHETIC_CLINICAL_COLUMNS] } });
  });

  it('gives stats that register as a POST /datasets body', async () => {
    const stats = await generateSyntheticDataset({ outDir: tmp(), numCases: 30, seed: 2 });
    const parsed = registerDatasetSchema.safeParse(registrationOf(stats, '/data/synthetic', 'synthetic'));
    expect(parsed.error?.issues).toBeUndefined();
  });

  it('sizes splits by rounding the fractions, test taking the remainder', async () => {
    const sizes = async (numCases: number, splits: { train: number; val: number; test: number }) => {
      const s = await generateSyntheticDataset({ outDir: tmp(), numCases, seed: 3, imageSize: 16, splits });
      return [s.trainSamples, s.valSamples, s.testSamples];
    };
    expect(await sizes(101, { train: 0.6, val: 0.2, test: 0.2 })).toEqual([61, 20, 20]);
    expect(await sizes(11, { train: 0.5, val: 0.5, test: 0 })).toEqual([6, 5, 0]);
  });

  it('draws a lesion clearly brighter than the background, at the requested size', async () => {
    const dir = tmp();
    await generateSyntheticDataset({ outDir: dir, numCases: 10, seed: 4, imageSize: 48 });
    for (const file of readdirSync(join(dir, 'images'))) {
      const png = decodePng(readFileSync(join(dir, 'images', file)));
      expect([png.width, png.height]).toEqual([48, 48]);
      const gray = Array.from({ length: 48 * 48 }, (_, i) => png.rgba[i * 4]!);
      const lesion = gray.filter((v) => v > 0.35 * 255);
      const background = gray.filter((v) => v <= 0.35 * 255);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      // The smallest lesion (radius 0.08 of 48 px) covers about 46 pixels.
      expect(lesion.length).toBeGreaterThan(30);
      expect(mean(lesion) - mean(background)).toBeGreaterThan(0.25 * 255);
    }
  });

  it('leaves some distractor cells empty but never a risk factor', async () => {
    const dir = tmp();
    await generateSyntheticDataset({ outDir: dir, numCases: 200, seed: 5, imageSize: 16 });
    const [header, ...rows] = csvRows(dir);
    const empty = (name: string) => rows.filter((r) => r[header!.indexOf(name)] === '').length;
    expect(empty('crp') + empty('ldl')).toBe(0);
    expect(SYNTHETIC_CLINICAL_COLUMNS.reduce((a, c) => a + empty(c), 0)).toBeGreaterThan(0);
  });

  it.each([
    [{ numCases: 5 }, /numCases must be an integer from 10/],
    [{ imageSize: 8 }, /imageSize must be an integer from 16 to 1024, got 8/],
    [{ seed: -1 }, /seed must be an integer from 0 to 4294967295, got -1/],
    [{ seed: 1.5 }, /seed must be an integer/],
    [{ splits: { train: 0.7, val: 0.2, test: 0.2 } }, /split fractions must be non-negative and sum to 1/],
  ])('refuses bad options: %j', async (bad, message) => {
    await expect(generateSyntheticDataset({ outDir: tmp(), numCases: 20, seed: 1, ...bad })).rejects.toThrow(message);
  });
});
