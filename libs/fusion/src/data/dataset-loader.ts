import { isAbsolute, relative, resolve } from 'node:path';
import { fitStandardization, numericColumns, readClinicalValues, writeStandardizedRow, type ClinicalValues, type Standardization } from './clinical-matrix.js';
import { columnIndex, findDatasetCsv, readCsvTable, type CsvTable } from './csv-table.js';
import { buildVocabularies, vocabularyLookups, writeCategoryRow, type CategoricalColumn } from './categorical-columns.js';
import { DatasetError } from './dataset-error.js';
import type { DicomWindow } from './dicom-codec.js';
import { readImageFile, type ImageFile } from './image-file.js';
import { writeImageTensor } from './image-layout.js';
import { encodeLabels } from './label-encoding.js';
import type { DecodedImage } from './png-codec.js';
import type { SplitName } from './split-assignment.js';
import { imageColumnNames, resolveImageColumns, type ImageColumn } from './view-columns.js';

export interface DatasetReadOptions {
  imageColumn: string;
  labelColumn: string;
  splitColumn: string;
  /** Default: every numeric column except the image, label, split and id (`case_id`, `id`) columns. */
  clinicalColumns?: string[];
  /**
   * Columns read as categories: each gets a vocabulary from the training split (index 0 = missing
   * or unseen). They are never numeric clinical columns. Default: none.
   */
  categoricalColumns?: string[];
  /** Images are resized to imageSize x imageSize. */
  imageSize: number;
  imageChannels: 1 | 3;
  /** The class names in class-index order; a label outside them is an error on its row. Default: inferred (see encodeLabels). */
  classNames?: string[];
  /** DICOM images without their own WindowCenter/WindowWidth use this window (else their min..max). */
  dicomWindow?: DicomWindow;
  /**
   * Refuse image paths that leave the data set folder (absolute, or with `..`): set for folders from
   * an untrusted source, such as an uploaded archive, so its CSV cannot make the reader open other files.
   */
  imagesInsideFolder?: boolean;
  /**
   * Multi-view data: one image-path column per view, read instead of imageColumn. An empty cell is a
   * missing view: its pixels are 0 and Split.viewMask says so; the row is kept.
   */
  viewColumns?: string[];
  /** A region-mask image per row (grey / 255, white = region); an empty cell = no mask for that row. */
  maskColumn?: string;
  /**
   * Checks every file before it is opened (the CSV, each image and region mask) and gives the path
   * to open (its real path), or throws to refuse it: the worker confines them to the data roots,
   * links resolved, so a CSV or a link cannot make it read other files. The thrown message becomes
   * a FILE_NOT_ALLOWED DatasetError at the file's CSV line and column. Default: no check.
   */
  resolveFile?: (path: string) => Promise<string>;
  /** Called once per row with its decoded image's format and size (for statistics). */
  onImage?: (image: Pick<ImageFile, 'format' | 'width' | 'height'>, line: number) => void;
}

/** One split as flat typed arrays, ready to be turned into tensors; rows keep the CSV's order. */
export interface Split {
  ids: string[];
  /** N x H x W x C, pixel / 255; with viewColumns N x V x H x W x C (a missing view is all 0). */
  images: Float32Array;
  /** With viewColumns: N x V, 1 where the view's image is there, 0 where its cell was empty. */
  viewMask?: Float32Array;
  /** With maskColumn: N x H x W region masks, grey / 255 (0 for a row without one). */
  regionMasks?: Float32Array;
  /** With maskColumn: N, 1 where the row has a region mask, else 0. */
  hasRegionMask?: Float32Array;
  /** N x F, standardised with the train split's mean and std; missing values are 0 (the mean). */
  clinical: Float32Array;
  /** N x F, 1 where the value was present, 0 where it was missing. */
  clinicalMask: Float32Array;
  /** N x C category indices of the categorical columns (0 = missing or unseen in training). */
  categorical: Int32Array;
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
  /** Per clinical column, in raw units: what a model's inputs must be standardised with at inference. */
  clinicalMean: number[];
  clinicalStd: number[];
  /** The categorical columns, in the order of Split.categorical's columns. */
  categoricalColumns: string[];
  /** Per categorical column, its training vocabulary: category index k + 1 is values[k]. */
  categoricalVocabularies: string[][];
}

const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];
const ID_COLUMNS = ['case_id', 'id'];
/** Images read at once: overlaps file reads without holding a whole data set of buffers. */
const READ_CONCURRENCY = 16;

/**
 * Reads a data set folder: one CSV (`clinical.csv`, or the only `.csv` there) with an image path
 * (relative to the folder), a label, a split (train/val/test) and clinical columns, and the PNG, JPEG or DICOM
 * images it names. Every problem is a DatasetError naming the file, CSV line and column to fix.
 */
export async function loadDataset(dataPath: string, opts: DatasetReadOptions): Promise<LoadedDataset> {
  if (!Number.isInteger(opts.imageSize) || opts.imageSize < 1) throw new RangeError(`imageSize must be a positive integer, got ${opts.imageSize}`);
  const csv = await findDatasetCsv(dataPath);
  const csvReal = opts.resolveFile
    ? await opts.resolveFile(csv).catch((err: unknown) => {
        throw new DatasetError('FILE_NOT_ALLOWED', (err as Error).message, { file: csv });
      })
    : csv;
  const table = await readCsvTable(csv, csvReal);
  const imageColumns = resolveImageColumns(table, opts);
  const labelCol = columnIndex(table, opts.labelColumn);
  const splitCol = columnIndex(table, opts.splitColumn);
  const reserved = new Set([opts.imageColumn, ...imageColumnNames(opts), opts.labelColumn, opts.splitColumn]);
  const leaked = opts.clinicalColumns?.find((c) => reserved.has(c));
  if (leaked) throw new RangeError(`clinicalColumns must not include the image, label or split column ("${leaked}")`);
  const categoricalNames = opts.categoricalColumns ?? [];
  const misplaced = categoricalNames.find((c) => reserved.has(c) || opts.clinicalColumns?.includes(c));
  if (misplaced) throw new RangeError(`categoricalColumns must not include the image, label or split column or a clinicalColumns entry ("${misplaced}")`);
  const clinicalColumns = opts.clinicalColumns ?? numericColumns(table, new Set([...reserved, ...ID_COLUMNS, ...categoricalNames]));
  const clinical = readClinicalValues(table, clinicalColumns.map((name) => ({ name, index: columnIndex(table, name) })));
  const rawLabels = table.rows.map((r) => ({ value: r.cells[labelCol] ?? '', line: r.line }));
  const labels = encodeLabels(rawLabels, table.file, opts.labelColumn, opts.classNames);
  const labelOfRow = Int32Array.from(rawLabels, (r) => labels.indexOf(r.value));
  const rowsBySplit = groupBySplit(table, splitCol, opts.splitColumn);
  if (rowsBySplit.train.length === 0) {
    throw new DatasetError('SPLIT_EMPTY', 'has no row whose split is "train"; a model needs training rows', { file: table.file, column: opts.splitColumn });
  }
  const standardization = fitStandardization(clinical, rowsBySplit.train);
  const categorical = buildVocabularies(table, categoricalNames.map((name) => ({ name, index: columnIndex(table, name) })), rowsBySplit.train);

  const idCol = table.header.findIndex((h) => ID_COLUMNS.includes(h));
  const context: SplitContext = { dataPath, table, opts, imageColumns, idCol, labelOfRow, clinical, standardization, categorical, lookups: vocabularyLookups(categorical) };
  return {
    train: await buildSplit(context, rowsBySplit.train),
    val: await buildSplit(context, rowsBySplit.val),
    test: await buildSplit(context, rowsBySplit.test),
    clinicalColumns,
    numClasses: labels.classNames.length,
    classNames: labels.classNames,
    clinicalMean: standardization.mean,
    clinicalStd: standardization.std,
    categoricalColumns: categorical.map((c) => c.name),
    categoricalVocabularies: categorical.map((c) => c.values),
  };
}

function groupBySplit(table: CsvTable, splitCol: number, column: string): Record<SplitName, number[]> {
  const rows: Record<SplitName, number[]> = { train: [], val: [], test: [] };
  table.rows.forEach((r, i) => {
    const value = r.cells[splitCol] ?? '';
    const split = value.toLowerCase() as SplitName;
    if (!SPLITS.includes(split)) throw new DatasetError('SPLIT_UNKNOWN', `unknown split "${value}" (use train, val or test)`, { file: table.file, row: r.line, column });
    rows[split].push(i);
  });
  return rows;
}

interface SplitContext {
  dataPath: string;
  table: CsvTable;
  opts: DatasetReadOptions;
  imageColumns: { views: ImageColumn[]; mask?: ImageColumn };
  idCol: number;
  labelOfRow: Int32Array;
  clinical: ClinicalValues;
  standardization: Standardization;
  categorical: CategoricalColumn[];
  lookups: Map<string, number>[];
}

async function buildSplit(ctx: SplitContext, rows: number[]): Promise<Split> {
  const { table, opts } = ctx;
  const F = ctx.clinical.features;
  const pixels = opts.imageSize * opts.imageSize * opts.imageChannels;
  const { views, mask } = ctx.imageColumns;
  const V = views.length;
  const maskPixels = opts.imageSize * opts.imageSize;
  const split: Split = {
    // Without an id column a row is known by its CSV line.
    ids: rows.map((i) => (ctx.idCol >= 0 ? table.rows[i]!.cells[ctx.idCol]! : `line-${table.rows[i]!.line}`)),
    images: new Float32Array(rows.length * V * pixels),
    ...(opts.viewColumns ? { viewMask: new Float32Array(rows.length * V) } : {}),
    ...(mask ? { regionMasks: new Float32Array(rows.length * maskPixels), hasRegionMask: new Float32Array(rows.length) } : {}),
    clinical: new Float32Array(rows.length * F),
    clinicalMask: new Float32Array(rows.length * F),
    categorical: new Int32Array(rows.length * ctx.categorical.length),
    labels: new Int32Array(rows.length),
    count: rows.length,
  };
  for (let start = 0; start < rows.length; start += READ_CONCURRENCY) {
    const batch = rows.slice(start, start + READ_CONCURRENCY);
    for (const [v, column] of views.entries()) {
      const images = await readImagesInOrder(ctx, batch, column, true);
      images.forEach((image, b) => {
        const at = (start + b) * V + v;
        if (image) writeImageTensor(image, opts.imageSize, opts.imageChannels, split.images, at * pixels);
        if (split.viewMask) split.viewMask[at] = image ? 1 : 0;
      });
    }
    if (mask) {
      const masks = await readImagesInOrder(ctx, batch, mask, false);
      masks.forEach((image, b) => {
        if (!image) return;
        writeImageTensor(image, opts.imageSize, 1, split.regionMasks!, (start + b) * maskPixels);
        split.hasRegionMask![start + b] = 1;
      });
    }
    batch.forEach((i, b) => {
      const k = start + b;
      writeStandardizedRow(ctx.clinical, i, ctx.standardization, split.clinical, split.clinicalMask, k * F);
      writeCategoryRow(table, ctx.categorical, ctx.lookups, i, split.categorical, k * ctx.categorical.length);
      split.labels[k] = ctx.labelOfRow[i]!;
    });
  }
  return split;
}

/**
 * Reads one image column for a batch of rows concurrently, but reports the first failing row in CSV
 * order, as a sequential read would. An empty cell of an optional column (a missing view or mask)
 * gives undefined. `reportImage`: pass each image to opts.onImage (images, not region masks).
 */
async function readImagesInOrder(ctx: SplitContext, rows: number[], column: ImageColumn, reportImage: boolean): Promise<(DecodedImage | undefined)[]> {
  const { dataPath, opts } = ctx;
  const results = await Promise.allSettled(
    rows.map((i) => {
      const row = ctx.table.rows[i]!;
      const at = { file: ctx.table.file, row: row.line, column: column.name };
      const path = row.cells[column.index] ?? '';
      if (path === '' && column.optional) return Promise.resolve(undefined);
      if (path === '') return Promise.reject(new DatasetError('IMAGE_NOT_FOUND', 'the image path is empty', at));
      // resolve: a relative path is relative to the data set folder; an absolute one is kept.
      const full = resolve(dataPath, path);
      const inside = relative(resolve(dataPath), full);
      if (opts.imagesInsideFolder && (inside.startsWith('..') || isAbsolute(inside))) {
        return Promise.reject(new DatasetError('IMAGE_OUTSIDE_DATASET', `image path "${path}" leads outside the data set folder; use a path relative to it`, at));
      }
      if (!opts.resolveFile) return readImageFile(full, at, { dicomWindow: opts.dicomWindow });
      return opts.resolveFile(full).then(
        (real) => readImageFile(real, at, { dicomWindow: opts.dicomWindow }),
        (err: unknown) => Promise.reject(new DatasetError('FILE_NOT_ALLOWED', (err as Error).message, at)),
      );
    }),
  );
  return results.map((r, b) => {
    if (r.status === 'rejected') throw r.reason;
    if (r.value && reportImage) opts.onImage?.(r.value, ctx.table.rows[rows[b]!]!.line);
    return r.value;
  });
}
