import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from './dataset-loader.js';
import { decodePng } from './png-codec.js';
import { generateSyntheticDataset, SYNTHETIC_CLINICAL_COLUMNS } from './synthetic-dataset.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'mf-fusion-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const read = { imageColumn: 'image', labelColumn: 'label', splitColumn: 'split', imageSize: 64, imageChannels: 1 as const };

describe('generateSyntheticDataset', () => {
  it('is deterministic by seed', async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    await generateSyntheticDataset({ outDir: a, numCases: 20, seed: 5 });
    await generateSyntheticDataset({ outDir: b, numCases: 20, seed: 5 });
    await generateSyntheticDataset({ outDir: c, numCases: 20, seed: 6 });
    expect(readFileSync(join(a, 'clinical.csv'))).toEqual(readFileSync(join(b, 'clinical.csv')));
    expect(readFileSync(join(a, 'images', 'case_00007.png'))).toEqual(readFileSync(join(b, 'images', 'case_00007.png')));
    expect(readFileSync(join(a, 'clinical.csv'))).not.toEqual(readFileSync(join(c, 'clinical.csv')));
  });

  it('writes PNGs, a CSV and stats whose splits and classes add up', async () => {
    const dir = tmp();
    const stats = await generateSyntheticDataset({ outDir: dir, numCases: 200, seed: 1 });
    expect(stats).toMatchObject({ numSamples: 200, numClasses: 2, trainSamples: 140, valSamples: 30, testSamples: 30, imageSize: 64 });
    expect(stats.classDistribution['0']! + stats.classDistribution['1']!).toBe(200);
    expect(stats.classDistribution['1']! / 200).toBeGreaterThan(0.3);
    expect(stats.classDistribution['1']! / 200).toBeLessThan(0.7);
    expect(readdirSync(join(dir, 'images'))).toHaveLength(200);
    const lines = readFileSync(join(dir, 'clinical.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe(['case_id', 'image', 'label', 'split', ...SYNTHETIC_CLINICAL_COLUMNS].join(','));
    expect(lines.filter((l) => l.split(',')[3] === 'val')).toHaveLength(30);
    const png = decodePng(readFileSync(join(dir, 'images', 'case_00001.png')));
    expect([png.width, png.height]).toEqual([64, 64]);
    const gray = Array.from({ length: 64 * 64 }, (_, i) => png.rgba[i * 4]!);
    const sorted = [...gray].sort((x, y) => x - y);
    // The lesion is brighter than the background: the brightest pixels stand well above the median.
    expect(sorted[sorted.length - 5]! - sorted[sorted.length >> 1]!).toBeGreaterThan(60);
  });
});

describe('loadDataset', () => {
  it('loads the splits, standardises clinical values on the train split and masks missing ones', async () => {
    const dir = tmp();
    const stats = await generateSyntheticDataset({ outDir: dir, numCases: 120, seed: 2 });
    const d = await loadDataset(dir, read);
    expect([d.train.count, d.val.count, d.test.count]).toEqual([stats.trainSamples, stats.valSamples, stats.testSamples]);
    expect(d.clinicalColumns).toEqual([...SYNTHETIC_CLINICAL_COLUMNS]);
    expect(d.train.images).toHaveLength(d.train.count * 64 * 64);
    const F = d.clinicalColumns.length;
    const age = SYNTHETIC_CLINICAL_COLUMNS.indexOf('age');
    const values = Array.from({ length: d.train.count }, (_, i) => i).filter((i) => d.train.clinicalMask[i * F + age] === 1).map((i) => d.train.clinical[i * F + age]!);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    expect(mean).toBeCloseTo(0, 5);
    expect(sd).toBeCloseTo(1, 5);
    // The generator leaves some cells empty: they are masked, not dropped.
    expect(d.train.clinicalMask.some((m) => m === 0)).toBe(true);
    d.train.clinicalMask.forEach((m, i) => m === 0 && expect(d.train.clinical[i]).toBe(0));
    // Labels line up with the CSV rows by id.
    const csv = new Map(readFileSync(join(dir, 'clinical.csv'), 'utf8').trim().split('\n').slice(1).map((l) => [l.split(',')[0]!, Number(l.split(',')[2])]));
    d.test.ids.forEach((id, k) => expect(d.test.labels[k]).toBe(csv.get(id)));
  });

  function withCsv(mutate: (lines: string[]) => string[]): Promise<string> {
    const dir = tmp();
    return generateSyntheticDataset({ outDir: dir, numCases: 12, seed: 3 }).then(() => {
      const file = join(dir, 'clinical.csv');
      writeFileSync(file, mutate(readFileSync(file, 'utf8').trim().split('\n')).join('\n'));
      return dir;
    });
  }

  it.each([
    ['a missing column', (l: string[]) => l.map((x) => x.replace(/^case_id,image,label,split/, 'case_id,image,diagnosis,split')), /clinical.csv, line 1, column "label": has no column "label" \(columns: case_id, image, diagnosis/],
    ['a non-numeric value', (l: string[]) => l.map((x, i) => (i === 3 ? x.replace(/,(train|val|test),[^,]*,/, ',$1,old,') : x)), /clinical.csv, line 4, column "age": "old" is not a number/],
    ['an unknown split', (l: string[]) => l.map((x, i) => (i === 2 ? x.replace(/,(train|val|test),/, ',holdout,') : x)), /line 3, column "split": unknown split "holdout"/],
    ['a missing image', (l: string[]) => l.map((x, i) => (i === 5 ? x.replace(/images\/case_\d+\.png/, 'images/nope.png') : x)), /line 6, column "image": image .*nope.png does not exist/],
  ])('names the file, line and column for %s', async (_name, mutate, message) => {
    await expect(loadDataset(await withCsv(mutate), read)).rejects.toThrow(message);
  });

  it('says when the folder has no CSV', async () => {
    await expect(loadDataset(tmp(), read)).rejects.toThrow(/has no clinical.csv/);
  });
});
