import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { DatasetError } from './dataset-error.js';
import { decodePng, type DecodedImage } from './png-codec.js';

export interface DatasetReadOptions {
  imageColumn: string;
  labelColumn: string;
  splitColumn: string;
  /** Default: every other column except `case_id`. */
  clinicalColumns?: string[];
  imageSize: number;
  imageChannels: 1 | 3;
}

/** One split as flat typed arrays, ready to be turned into tensors. */
export interface Split {
  ids: string[];
  /** N x H x W x C, pixel / 255. */
  images: Float32Array;
  /** N x F, standardised with the train split's mean and std; missing values are 0 (the mean). */
  clinical: Float32Array;
  /** N x F, 1 where the value was present, 0 where it was missing. */
  clinicalMask: Float32Array;
  labels: Int32Array;
  count: number;
}

export interface LoadedDataset {
  train: Split;
  val: Split;
  test: Split;
  clinicalColumns: string[];
  numClasses: number;
  classNames: string[];
  clinicalMean: number[];
  clinicalStd: number[];
}

const SPLITS = ['train', 'val', 'test'] as const;
const MISSING = new Set(['', 'na', 'nan', 'null']);
const ID_COLUMNS = new Set(['case_id', 'id']);

/**
 * Reads a data set folder: one CSV (`clinical.csv`, or the only `.csv` there) with an image path,
 * a label, a split (train/val/test) and clinical columns, and the PNG images it names. Errors name
 * the file, the CSV line and the column to fix.
 */
export async function loadDataset(dataPath: string, opts: DatasetReadOptions): Promise<LoadedDataset> {
  const csvFile = await findCsv(dataPath);
  let rows: string[][];
  try {
    rows = parse(await readFile(csvFile, 'utf8'), { skip_empty_lines: true, trim: true }) as string[][];
  } catch (err) {
    throw new DatasetError(`not a readable CSV: ${(err as Error).message}`, csvFile);
  }
  const [header, ...body] = rows;
  if (!header || body.length === 0) throw new DatasetError('has no data rows', csvFile);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new DatasetError(`has no column "${name}" (columns: ${header.join(', ')})`, csvFile, 1, name);
    return i;
  };
  const imageCol = col(opts.imageColumn);
  const labelCol = col(opts.labelColumn);
  const splitCol = col(opts.splitColumn);
  const special = new Set([opts.imageColumn, opts.labelColumn, opts.splitColumn]);
  const clinicalColumns = opts.clinicalColumns ?? header.filter((h) => !special.has(h) && !ID_COLUMNS.has(h));
  const clinicalIdx = clinicalColumns.map(col);
  const idCol = header.findIndex((h) => ID_COLUMNS.has(h));

  const labelsRaw = body.map((r) => r[labelCol] ?? '');
  const { classNames, toIndex } = labelEncoding(labelsRaw, csvFile, opts.labelColumn);

  const bySplit: Record<(typeof SPLITS)[number], number[]> = { train: [], val: [], test: [] };
  const values = new Float64Array(body.length * clinicalColumns.length);
  const present = new Uint8Array(body.length * clinicalColumns.length);
  body.forEach((r, i) => {
    const line = i + 2;
    const split = (r[splitCol] ?? '').toLowerCase();
    if (!(SPLITS as readonly string[]).includes(split)) {
      throw new DatasetError(`unknown split "${r[splitCol]}" (use train, val or test)`, csvFile, line, opts.splitColumn);
    }
    bySplit[split as (typeof SPLITS)[number]].push(i);
    clinicalIdx.forEach((c, f) => {
      const cell = r[c] ?? '';
      if (MISSING.has(cell.toLowerCase())) return;
      const v = Number(cell);
      if (!Number.isFinite(v)) throw new DatasetError(`"${cell}" is not a number`, csvFile, line, clinicalColumns[f]);
      values[i * clinicalColumns.length + f] = v;
      present[i * clinicalColumns.length + f] = 1;
    });
  });
  if (bySplit.train.length === 0) throw new DatasetError('has no rows with split "train"', csvFile, undefined, opts.splitColumn);

  const { mean, std } = trainStatistics(values, present, bySplit.train, clinicalColumns.length);
  const build = async (indices: number[]): Promise<Split> => {
    const F = clinicalColumns.length;
    const pixels = opts.imageSize * opts.imageSize * opts.imageChannels;
    const split: Split = {
      ids: indices.map((i) => (idCol >= 0 ? body[i]![idCol]! : String(i + 1))),
      images: new Float32Array(indices.length * pixels),
      clinical: new Float32Array(indices.length * F),
      clinicalMask: new Float32Array(indices.length * F),
      labels: new Int32Array(indices.length),
      count: indices.length,
    };
    for (const [k, i] of indices.entries()) {
      const file = join(dataPath, body[i]![imageCol]!);
      const image = await readImage(file, csvFile, i + 2, opts.imageColumn);
      split.images.set(toTensorLayout(image, opts.imageSize, opts.imageChannels), k * pixels);
      for (let f = 0; f < F; f++) {
        const has = present[i * F + f] === 1;
        split.clinicalMask[k * F + f] = has ? 1 : 0;
        split.clinical[k * F + f] = has ? (values[i * F + f]! - mean[f]!) / std[f]! : 0;
      }
      split.labels[k] = toIndex(labelsRaw[i]!);
    }
    return split;
  };
  return {
    train: await build(bySplit.train),
    val: await build(bySplit.val),
    test: await build(bySplit.test),
    clinicalColumns,
    numClasses: classNames.length,
    classNames,
    clinicalMean: mean,
    clinicalStd: std,
  };
}

async function findCsv(dir: string): Promise<string> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new DatasetError(`data set folder cannot be read: ${(err as Error).message}`, dir);
  }
  if (entries.includes('clinical.csv')) return join(dir, 'clinical.csv');
  const csvs = entries.filter((e) => extname(e).toLowerCase() === '.csv');
  if (csvs.length === 1) return join(dir, csvs[0]!);
  throw new DatasetError(csvs.length ? `has several CSV files (${csvs.join(', ')}); name the one to use clinical.csv` : 'has no clinical.csv', dir);
}

/** Integer labels 0..K-1 are used as they are; any other labels map, sorted, to 0..K-1. */
function labelEncoding(raw: string[], file: string, name: string) {
  raw.forEach((v, i) => {
    if (v === '') throw new DatasetError('label is empty', file, i + 2, name);
  });
  const distinct = [...new Set(raw)];
  if (distinct.every((v) => /^\d+$/.test(v))) {
    const max = Math.max(...distinct.map(Number));
    const classNames = Array.from({ length: max + 1 }, (_, k) => String(k));
    return { classNames, toIndex: (v: string) => Number(v) };
  }
  const classNames = distinct.sort();
  const index = new Map(classNames.map((c, k) => [c, k]));
  return { classNames, toIndex: (v: string) => index.get(v)! };
}

function trainStatistics(values: Float64Array, present: Uint8Array, train: number[], F: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(F).fill(0);
  const std = new Array<number>(F).fill(1);
  for (let f = 0; f < F; f++) {
    let n = 0;
    let sum = 0;
    let sq = 0;
    for (const i of train) {
      if (!present[i * F + f]) continue;
      const v = values[i * F + f]!;
      n++;
      sum += v;
      sq += v * v;
    }
    if (n === 0) continue;
    mean[f] = sum / n;
    const sd = Math.sqrt(Math.max(0, sq / n - mean[f]! ** 2));
    std[f] = sd > 1e-12 ? sd : 1;
  }
  return { mean, std };
}

async function readImage(file: string, csvFile: string, line: number, column: string): Promise<DecodedImage> {
  if (extname(file).toLowerCase() !== '.png') {
    throw new DatasetError(`image ${file} is not a PNG; only PNG images are supported so far`, csvFile, line, column);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new DatasetError(`image ${file} does not exist`, csvFile, line, column);
  }
  try {
    return decodePng(bytes);
  } catch (err) {
    throw new DatasetError(`image ${file} cannot be decoded: ${(err as Error).message}`, csvFile, line, column);
  }
}

/** Nearest-neighbour resize to size x size, gray (luminance) or RGB, scaled to 0..1. */
function toTensorLayout(img: DecodedImage, size: number, channels: 1 | 3): Float32Array {
  const out = new Float32Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / size));
    for (let x = 0; x < size; x++) {
      const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / size));
      const p = (sy * img.width + sx) * 4;
      const o = (y * size + x) * channels;
      if (channels === 1) out[o] = (0.299 * img.rgba[p]! + 0.587 * img.rgba[p + 1]! + 0.114 * img.rgba[p + 2]!) / 255;
      else for (let c = 0; c < 3; c++) out[o + c] = img.rgba[p + c]! / 255;
    }
  }
  return out;
}
