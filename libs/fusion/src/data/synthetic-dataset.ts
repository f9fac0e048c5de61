import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { drawLesionImage, LESION_BRIGHTNESS, LESION_RADIUS, sampleLesion, type Lesion } from './lesion-image.js';
import { encodeGrayPng } from './png-codec.js';
import { seededRandom } from './seeded-random.js';
import { formatClinicalValue, isRiskFactor, sampleClinicalLatents, SYNTHETIC_CLINICAL_COLUMNS, SYNTHETIC_RISK_FACTORS } from './synthetic-clinical.js';
import { assignSplits, type SplitFractions } from './split-assignment.js';

/** Share of distractor cells left empty, so loaders and models meet missing values. */
const MISSING_RATE = 0.03;
/**
 * SD of the noise added to the latent score before thresholding. The two modality scores have SD 1
 * each, so the noise is small next to either: the label is almost a function of both together.
 */
const LABEL_NOISE_SD = 0.3;
const GENERATOR = 'medfusion-synthetic-v1';
const MAX_CASES = 1_000_000;

export interface SyntheticDatasetOptions {
  outDir: string;
  numCases: number;
  /** Any integer from 0 to 2^32 - 1; the same seed writes byte-identical files. */
  seed: number;
  /** Side of the square images in pixels (default 64). */
  imageSize?: number;
  /** Fractions of cases per split (default 0.7 / 0.15 / 0.15), summing to 1. */
  splits?: SplitFractions;
}

/** The counts of `POST /datasets` (registerDatasetSchema), plus what a loader needs to know. */
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
 * Writes a multimodal data set whose label needs both modalities: `images/case_00001.png`..., each
 * a grey image with one round "lesion" (random place, radius and brightness), `clinical.csv`
 * (`case_id,image,label,split` and 16 clinical columns) and `dataset.json` (parameters and stats).
 *
 * The label: imageScore = the z-scores of the lesion's radius and brightness, summed and divided by
 * sqrt 2; clinicalScore = the same for the risk factors `crp` and `ldl`; label = 1 when imageScore +
 * clinicalScore + N(0, 0.3^2) > 0. Both scores have SD 1 and are independent, so each explains about
 * half of the latent's variance. A Monte Carlo of the ideal scorer: AUC about 0.99 knowing both
 * scores, 0.84 knowing only the image score and 0.82 knowing only the clinical one; no model can
 * beat those ceilings with one modality, while a fusion model can approach 0.99. Classes are
 * balanced in expectation (the latent is symmetric around 0).
 */
export async function generateSyntheticDataset(opts: SyntheticDatasetOptions): Promise<DatasetStats> {
  const size = opts.imageSize ?? 64;
  const fractions = opts.splits ?? { train: 0.7, val: 0.15, test: 0.15 };
  const n = opts.numCases;
  if (!Number.isInteger(n) || n < 10 || n > MAX_CASES) throw new RangeError(`numCases must be an integer from 10 to ${MAX_CASES}, got ${n}`);
  if (!Number.isInteger(size) || size < 16 || size > 1024) throw new RangeError(`imageSize must be an integer from 16 to 1024, got ${size}`);
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) throw new RangeError(`seed must be an integer from 0 to 4294967295, got ${opts.seed}`);
  const rng = seededRandom(opts.seed);
  // Splits are drawn first, from the same stream: every case's content depends on the seed alone.
  const { splitOf, sizes } = assignSplits(rng, n, fractions);
  await mkdir(join(opts.outDir, 'images'), { recursive: true });

  const lines = [['case_id', 'image', 'label', 'split', ...SYNTHETIC_CLINICAL_COLUMNS].join(',')];
  const classDistribution = { '0': 0, '1': 0 };
  for (let i = 0; i < n; i++) {
    const id = `case_${String(i + 1).padStart(5, '0')}`;
    const lesion = sampleLesion(rng);
    await writeFile(join(opts.outDir, 'images', `${id}.png`), encodeGrayPng(drawLesionImage(rng, size, lesion), size, size));
    const clinical = sampleClinicalLatents(rng);
    const clinicalScore = (clinical.crp + clinical.ldl) / Math.SQRT2;
    const label = imageScore(lesion) + clinicalScore + LABEL_NOISE_SD * rng.normal() > 0 ? 1 : 0;
    classDistribution[label === 1 ? '1' : '0']++;
    const cells = SYNTHETIC_CLINICAL_COLUMNS.map((c) => (!isRiskFactor(c) && rng.next() < MISSING_RATE ? '' : formatClinicalValue(c, clinical[c])));
    lines.push([id, `images/${id}.png`, label, splitOf[i], ...cells].join(','));
  }
  await writeFile(join(opts.outDir, 'clinical.csv'), `${lines.join('\n')}\n`);

  const stats: DatasetStats = {
    numSamples: n,
    numClasses: 2,
    trainSamples: sizes.train,
    valSamples: sizes.val,
    testSamples: sizes.test,
    classDistribution,
    clinicalColumns: [...SYNTHETIC_CLINICAL_COLUMNS],
    imageSize: size,
  };
  const params = {
    seed: opts.seed,
    numCases: n,
    imageSize: size,
    splits: fractions,
    columns: { caseId: 'case_id', image: 'image', label: 'label', split: 'split', clinical: stats.clinicalColumns },
    riskFactors: SYNTHETIC_RISK_FACTORS,
    labelNoiseSd: LABEL_NOISE_SD,
    missingRate: MISSING_RATE,
  };
  await writeFile(join(opts.outDir, 'dataset.json'), `${JSON.stringify({ generator: GENERATOR, params, stats }, null, 2)}\n`);
  return stats;
}

/** z-scores of the lesion's radius and brightness (Uniform(a, b) has mean (a+b)/2, SD (b-a)/sqrt 12). */
function imageScore(lesion: Lesion): number {
  const z = (v: number, range: { min: number; max: number }) => (v - (range.min + range.max) / 2) / ((range.max - range.min) / Math.sqrt(12));
  return (z(lesion.radius, LESION_RADIUS) + z(lesion.brightness, LESION_BRIGHTNESS)) / Math.SQRT2;
}
