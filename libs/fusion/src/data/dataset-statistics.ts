import type { ClinicalColumnStats, DatasetStatistics } from '@medfusion/contracts';
import { isMissing } from './clinical-matrix.js';
import { findDatasetCsv, readCsvTable, type CsvTable } from './csv-table.js';
import { loadDataset, type DatasetReadOptions, type LoadedDataset } from './dataset-loader.js';
import type { ImageFormat } from './image-file.js';
import type { DatasetStats } from './synthetic-dataset.js';

/** The figures a `datasets` row holds (as for a generated set; classDistribution over all splits), plus per-column and image statistics. */
export interface DatasetSummary extends Omit<DatasetStats, 'imageSize'> {
  statistics: DatasetStatistics;
}

export type SummaryOptions = Omit<DatasetReadOptions, 'imageSize' | 'imageChannels' | 'onImage'>;

/**
 * Validates a data set folder by loading it exactly as training would (every image decoded, every
 * label and clinical value checked; the first problem is thrown as a DatasetError) and summarises
 * it. Images are sampled down to one pixel, so memory stays small whatever the data set's size.
 */
export async function summarizeDataset(dataPath: string, opts: SummaryOptions): Promise<DatasetSummary> {
  const images = new ImageTally();
  const loaded = await loadDataset(dataPath, { ...opts, imageSize: 1, imageChannels: 1, onImage: (img) => images.add(img.format, img.width, img.height) });
  const table = await readCsvTable(await findDatasetCsv(dataPath));
  const splits = [loaded.train, loaded.val, loaded.test];
  return {
    numSamples: splits.reduce((n, s) => n + s.count, 0),
    numClasses: loaded.numClasses,
    trainSamples: loaded.train.count,
    valSamples: loaded.val.count,
    testSamples: loaded.test.count,
    classDistribution: classDistribution(loaded),
    clinicalColumns: loaded.clinicalColumns,
    statistics: {
      clinical: Object.fromEntries(loaded.clinicalColumns.map((c) => [c, columnStats(table, c)])),
      images: images.summary(),
    },
  };
}

function classDistribution(d: LoadedDataset): Record<string, number> {
  const counts = new Array<number>(d.numClasses).fill(0);
  for (const s of [d.train, d.val, d.test]) for (const y of s.labels) counts[y]!++;
  return Object.fromEntries(d.classNames.map((name, k) => [name, counts[k]!]));
}

/** Over every row; a cell that is not a number counts as present but not in mean/std/min/max. */
export function columnStats(table: CsvTable, column: string): ClinicalColumnStats {
  const c = table.header.indexOf(column);
  const values: number[] = [];
  let missing = 0;
  for (const row of table.rows) {
    const cell = row.cells[c] ?? '';
    if (isMissing(cell)) missing++;
    else if (Number.isFinite(Number(cell))) values.push(Number(cell));
  }
  const count = table.rows.length - missing;
  if (values.length === 0) return { count, missing, mean: null, std: null, min: null, max: null };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  // Two passes, as in fitStandardization: one pass loses precision on large values with small spread.
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
  // A loop, not Math.min(...values): spreading a large column overflows the call stack.
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { count, missing, mean, std, min, max };
}

class ImageTally {
  private formats: Partial<Record<ImageFormat, number>> = {};
  private minWidth = Infinity;
  private maxWidth = 0;
  private minHeight = Infinity;
  private maxHeight = 0;

  add(format: ImageFormat, width: number, height: number): void {
    this.formats[format] = (this.formats[format] ?? 0) + 1;
    this.minWidth = Math.min(this.minWidth, width);
    this.maxWidth = Math.max(this.maxWidth, width);
    this.minHeight = Math.min(this.minHeight, height);
    this.maxHeight = Math.max(this.maxHeight, height);
  }

  summary(): DatasetStatistics['images'] {
    const none = this.maxWidth === 0;
    return { formats: this.formats, minWidth: none ? 0 : this.minWidth, maxWidth: this.maxWidth, minHeight: none ? 0 : this.minHeight, maxHeight: this.maxHeight };
  }
}
