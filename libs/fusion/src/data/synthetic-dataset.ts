import { mkdir, writeFile } from 'node:fs/promises';
import type { RegisterDataset } from '@medfusion/contracts';
import { join } from 'node:path';
import { encodeGrayPng } from './png-codec.js';
import { seededRandom, type SeededRandom } from './seeded-random.js';

/**
 * Sixteen clinical columns. Two are the risk factors the label depends on (`crp`, `ldl`); the other
 * fourteen are distractors, some correlated with age, a few with missing values.
 */
export const SYNTHETIC_CLINICAL_COLUMNS = [
  'age', 'bmi', 'systolic_bp', 'diastolic_bp', 'heart_rate', 'glucose', 'cholesterol', 'hdl',
  'ldl', 'creatinine', 'crp', 'smoker', 'alcohol_units', 'exercise_hours', 'sleep_hours', 'family_history',
] as const;
const RISK_FACTORS = ['crp', 'ldl'] as const;
/** Share of distractor cells left empty, so loaders and models meet missing values. */
const MISSING_RATE = 0.03;
const LABEL_NOISE_SD = 0.3;

export interface SyntheticDatasetOptions {
  outDir: string;
  numCases: number;
  seed: number;
  imageSize?: number;
  splits?: { train: number; val: number; test: number };
}

/** Matches the REST body of `POST /datasets`, plus what a loader needs to know. */
export interface DatasetStats {
  numSamples: number;
  numClasses: number;
  trainSamples: number;
  valSamples: number;
  testSamples: number;
  classDistribution: Record<string, number>;
  clinicalColumns: string[];
  imageSize: number;
}

/**
 * A multimodal data set whose label needs both modalities. Each case has a grey image with one
 * round "lesion" (random place, radius and brightness) and 16 clinical values. With z-scores of
 * the lesion's radius and brightness (image score) and of two clinical risk factors (clinical
 * score), label = image score + clinical score + small noise > 0. Either modality alone explains
 * about half of the latent score, so a model that sees one of them is limited to an AUC around 0.75,
 * and one that fuses both can approach 0.95. Deterministic by seed.
 */
export async function generateSyntheticDataset(opts: SyntheticDatasetOptions): Promise<DatasetStats> {
  const size = opts.imageSize ?? 64;
  const fractions = opts.splits ?? { train: 0.7, val: 0.15, test: 0.15 };
  if (!Number.isInteger(opts.numCases) || opts.numCases < 10) throw new Error(`numCases must be an integer of at least 10, got ${opts.numCases}`);
  if (!Number.isInteger(size) || size < 16 || size > 1024) throw new Error(`imageSize must be an integer from 16 to 1024, got ${size}`);
  const rng = seededRandom(opts.seed);
  await mkdir(join(opts.outDir, 'images'), { recursive: true });

  const n = opts.numCases;
  const trainN = Math.round(n * fractions.train);
  const valN = Math.round(n * fractions.val);
  const splitOf = new Array<string>(n);
  rng.permutation(n).forEach((caseIndex, rank) => (splitOf[caseIndex] = rank < trainN ? 'train' : rank < trainN + valN ? 'val' : 'test'));

  const header = ['case_id', 'image', 'label', 'split', ...SYNTHETIC_CLINICAL_COLUMNS];
  const lines = [header.join(',')];
  const counts = { '0': 0, '1': 0 };
  for (let i = 0; i < n; i++) {
    const id = `case_${String(i + 1).padStart(5, '0')}`;
    const lesion = { radius: rng.uniform(0.08, 0.2), brightness: rng.uniform(0.35, 1) };
    await writeFile(join(opts.outDir, 'images', `${id}.png`), encodeGrayPng(drawLesion(rng, size, lesion), size, size));
    const clinical = clinicalValues(rng);
    // Uniform(a, b) has mean (a+b)/2 and sd (b-a)/sqrt(12).
    const imageScore = ((lesion.radius - 0.14) / (0.12 / Math.sqrt(12)) + (lesion.brightness - 0.675) / (0.65 / Math.sqrt(12))) / Math.SQRT2;
    const clinicalScore = (clinical.crp! + clinical.ldl!) / Math.SQRT2;
    const label = imageScore + clinicalScore + LABEL_NOISE_SD * rng.normal() > 0 ? 1 : 0;
    counts[label === 1 ? '1' : '0']++;
    const cells = SYNTHETIC_CLINICAL_COLUMNS.map((c) =>
      !RISK_FACTORS.includes(c as (typeof RISK_FACTORS)[number]) && rng.next() < MISSING_RATE ? '' : display(c, clinical[c]!),
    );
    lines.push([id, `images/${id}.png`, label, splitOf[i], ...cells].join(','));
  }
  await writeFile(join(opts.outDir, 'clinical.csv'), `${lines.join('\n')}\n`);

  const stats: DatasetStats = {
    numSamples: n,
    numClasses: 2,
    trainSamples: trainN,
    valSamples: valN,
    testSamples: n - trainN - valN,
    classDistribution: counts,
    clinicalColumns: [...SYNTHETIC_CLINICAL_COLUMNS],
    imageSize: size,
  };
  const params = { seed: opts.seed, numCases: n, imageSize: size, splits: fractions, riskFactors: RISK_FACTORS, labelNoiseSd: LABEL_NOISE_SD };
  await writeFile(join(opts.outDir, 'dataset.json'), `${JSON.stringify({ generator: 'medfusion-synthetic-v1', params, stats }, null, 2)}\n`);
  return stats;
}

/** Background noise plus a disc with a soft edge; radius is a fraction of the image side. */
function drawLesion(rng: SeededRandom, size: number, lesion: { radius: number; brightness: number }): Uint8Array {
  const r = lesion.radius * size;
  const cx = rng.uniform(r + 1, size - r - 1);
  const cy = rng.uniform(r + 1, size - r - 1);
  const pixels = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const inside = Math.min(1, Math.max(0, r - d + 0.5));
      const v = 0.12 + 0.04 * rng.normal() + inside * lesion.brightness * 0.8;
      pixels[y * size + x] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  return pixels;
}

/** Standard-normal latent values per column (risk factors independent of everything else). */
function clinicalValues(rng: SeededRandom): Record<string, number> {
  const age = rng.normal();
  const v: Record<string, number> = {};
  for (const c of SYNTHETIC_CLINICAL_COLUMNS) v[c] = rng.normal();
  v['age'] = age;
  for (const c of ['systolic_bp', 'diastolic_bp', 'glucose', 'cholesterol', 'creatinine']) v[c] = 0.5 * age + Math.sqrt(0.75) * v[c]!;
  return v;
}

/** Latent z-scores shown in clinical units, as a user's CSV would have them. */
function display(column: string, z: number): string {
  const units: Record<string, [mean: number, sd: number, digits: number]> = {
    age: [58, 12, 0], bmi: [27, 4.5, 1], systolic_bp: [132, 16, 0], diastolic_bp: [82, 10, 0], heart_rate: [72, 11, 0],
    glucose: [5.8, 1.2, 2], cholesterol: [5.2, 1, 2], hdl: [1.4, 0.35, 2], ldl: [3.1, 0.8, 2], creatinine: [85, 18, 0],
    crp: [4, 2.5, 2], alcohol_units: [6, 4, 1], exercise_hours: [3, 2, 1], sleep_hours: [7, 1.1, 1],
  };
  if (column === 'smoker' || column === 'family_history') return z > 0.6 ? '1' : '0';
  const [mean, sd, digits] = units[column]!;
  return (mean + sd * z).toFixed(digits);
}

/** The `POST /datasets` body that registers a generated data set found at `dataPath`. */
export function registrationOf(stats: DatasetStats, dataPath: string, name: string, extra: Partial<RegisterDataset> = {}): RegisterDataset {
  return {
    name,
    description: 'Synthetic lesion images + 16 clinical features; the label needs both modalities.',
    dataPath,
    numSamples: stats.numSamples,
    numClasses: stats.numClasses,
    trainSamples: stats.trainSamples,
    valSamples: stats.valSamples,
    testSamples: stats.testSamples,
    classDistribution: stats.classDistribution,
    tags: ['synthetic'],
    ...extra,
  };
}
