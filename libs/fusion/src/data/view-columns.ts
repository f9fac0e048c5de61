import { columnIndex, type CsvTable } from './csv-table.js';

/** A CSV column of image paths, and whether an empty cell is allowed (a missing view or mask). */
export interface ImageColumn {
  name: string;
  index: number;
  optional: boolean;
}

export interface ImageColumnOptions {
  imageColumn: string;
  viewColumns?: string[];
  maskColumn?: string;
}

/**
 * The image columns a data set is read from: the views (`viewColumns`, several per case, each cell
 * may be empty; else the one `imageColumn`, never empty) and the optional region-mask column. A
 * column that is not in the CSV is a COLUMN_MISSING DatasetError naming the file, header line and
 * column.
 */
export function resolveImageColumns(table: CsvTable, opts: ImageColumnOptions): { views: ImageColumn[]; mask?: ImageColumn } {
  if (opts.viewColumns && opts.viewColumns.length < 2) throw new RangeError(`viewColumns needs at least 2 columns, got ${opts.viewColumns.length}`);
  const multi = opts.viewColumns !== undefined;
  const views = (opts.viewColumns ?? [opts.imageColumn]).map((name) => ({ name, index: columnIndex(table, name), optional: multi }));
  const mask = opts.maskColumn === undefined ? undefined : { name: opts.maskColumn, index: columnIndex(table, opts.maskColumn), optional: true };
  return { views, mask };
}

/** Every column that holds image paths (never a clinical column). */
export function imageColumnNames(opts: ImageColumnOptions): string[] {
  return [...(opts.viewColumns ?? [opts.imageColumn]), ...(opts.maskColumn ? [opts.maskColumn] : [])];
}
