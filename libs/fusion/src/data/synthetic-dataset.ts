import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { drawLesionAt, lesionMask, LESION_BRIGHTNESS, LESION_RADIUS, placeLesion, sampleLesion, type Lesion } from './lesion-image.js';
import { encodeGrayPng } from './png-codec.js';
import { mixSeed, seededRandom, type SeededRandom } from './seeded-random.js';
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
/** With 2 views: share of cases whose second view cell is empty (only cases whose first view shows the lesion). */
const MISSING_VIEW_RATE = 0.15;
/** With masks: share of cases whose mask cell is empty, so loaders and losses meet rows without one. */
const MISSING_MASK_RATE = 0.2;
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
  /**
   * 2: a second view per case (column `view_2`, images `images/case_00001_v2.png`): the same lesion
   * at another place, shown in both views (half the cases), only the first (a quarter) or only the
   * second (a quarter; the first view is then lesion-free background); 15% of the cases that show it
   * in the first view have an empty `view_2` cell. Default 1: no second view.
   */
  views?: 1 | 2;
  /**
   * Write the first view's lesion mask per case (column `mask`, `masks/case_00001.png`, 255 inside
   * the disc; all 0 when the first view has no lesion), with 20% of the cells left empty.
   */
  masks?: boolean;
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
  if (opts.masks) await mkdir(join(opts.outDir, 'masks'), { recursive: true });
  const twoViews = opts.views === 2;
  // Second views and masks draw from their own stream, so the main stream (and with it every label,
  // clinical value and first image that does show its lesion) is the one the default set draws.
  const extra = seededRandom(mixSeed(opts.seed, 0x76696577));

  const lines = [['case_id', 'image', 'label', 'split', ...(twoViews ? ['view_2'] : []), ...(opts.masks ? ['mask'] : []), ...SYNTHETIC_CLINICAL_COLUMNS].join(',')];
  const classDistribution = { '0': 0, '1': 0 };
  for (let i = 0; i < n; i++) {
    const id = `case_${String(i + 1).padStart(5, '0')}`;
    const lesion = sampleLesion(rng);
    const extraCells = await writeCaseImages(opts.outDir, id, rng, extra, size, lesion, twoViews, !!opts.masks);
    const clinical = sampleClinicalLatents(rng);
    const clinicalScore = (clinical.crp + clinical.ldl) / Math.SQRT2;
    const label = imageScore(lesion) + clinicalScore + LABEL_NOISE_SD * rng.normal() > 0 ? 1 : 0;
    classDistribution[label === 1 ? '1' : '0']++;
    const cells = SYNTHETIC_CLINICAL_COLUMNS.map((c) => (!isRiskFactor(c) && rng.next() < MISSING_RATE ? '' : formatClinicalValue(c, clinical[c])));
    lines.push([id, `images/${id}.png`, label, splitOf[i], ...extraCells, ...cells].join(','));
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
    ...(twoViews ? { views: 2, missingViewRate: MISSING_VIEW_RATE } : {}),
    ...(opts.masks ? { masks: true, missingMaskRate: MISSING_MASK_RATE } : {}),
  };
  await writeFile(join(opts.outDir, 'dataset.json'), `${JSON.stringify({ generator: GENERATOR, params, stats }, null, 2)}\n`);
  return stats;
}

/**
 * A case's images: the first view (drawn from the main stream exactly as drawLesionImage does, then replaced by
 * background when the lesion shows only in the second view), the second view and the mask; returns
 * the `view_2` and `mask` cells.
 */
async function writeCaseImages(outDir: string, id: string, rng: SeededRandom, extra: SeededRandom, size: number, lesion: Lesion, twoViews: boolean, masks: boolean): Promise<string[]> {
  const at = placeLesion(rng, size, lesion);
  let first = drawLesionAt(rng, size, lesion, at);
  const u = extra.next();
  const shows = !twoViews ? 'first' : u < 0.5 ? 'both' : u < 0.75 ? 'first' : 'second';
  if (shows === 'second') first = drawLesionAt(extra, size, { ...lesion, brightness: 0 }, at);
  await writeFile(join(outDir, 'images', `${id}.png`), encodeGrayPng(first, size, size));
  const cells: string[] = [];
  if (twoViews) {
    const secondAt = placeLesion(extra, size, lesion);
    const second = drawLesionAt(extra, size, shows === 'first' ? { ...lesion, brightness: 0 } : lesion, secondAt);
    const missing = shows !== 'second' && extra.next() < MISSING_VIEW_RATE;
    if (!missing) await writeFile(join(outDir, 'images', `${id}_v2.png`), encodeGrayPng(second, size, size));
    cells.push(missing ? '' : `images/${id}_v2.png`);
  }
  if (masks) {
    const mask = shows === 'second' ? new Uint8Array(size * size) : lesionMask(size, at);
    const missing = extra.next() < MISSING_MASK_RATE;
    if (!missing) await writeFile(join(outDir, 'masks', `${id}.png`), encodeGrayPng(mask, size, size));
    cells.push(missing ? '' : `masks/${id}.png`);
  }
  return cells;
}

/** z-scores of the lesion's radius and brightness (Uniform(a, b) has mean (a+b)/2, SD (b-a)/sqrt 12). */
function imageScore(lesion: Lesion): number {
  const z = (v: number, range: { min: number; max: number }) => (v - (range.min + range.max) / 2) / ((range.max - range.min) / Math.sqrt(12));
  return (z(lesion.radius, LESION_RADIUS) + z(lesion.brightness, LESION_BRIGHTNESS)) / Math.SQRT2;
}
