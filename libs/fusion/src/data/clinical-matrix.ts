import type { CsvTable } from './csv-table.js';
import { DatasetError } from './dataset-error.js';

/** Cells that mean "not measured": imputed and masked, never a reason to drop the row. */
const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null']);

export function isMissing(cell: string): boolean {
  return MISSING.has(cell.toLowerCase());
}

function parseNumber(cell: string): number | undefined {
  const v = Number(cell);
  return Number.isFinite(v) ? v : undefined;
}

/**
 * The default clinical columns: every column not named in `exclude` that holds at least one number.
 * A column with no number at all (free text, codes, all empty) is left out; a numeric column with a
 * stray word is kept, so that the word is reported as an error instead of the column vanishing.
 */
export function numericColumns(table: CsvTable, exclude: ReadonlySet<string>): string[] {
  return table.header.filter((name, c) => !exclude.has(name) && table.rows.some((r) => {
    const cell = r.cells[c] ?? '';
    return !isMissing(cell) && parseNumber(cell) !== undefined;
  }));
}

/** Raw clinical values, row-major (rows x features), with 1 where a value was present. */
export interface ClinicalValues {
  values: Float64Array;
  present: Uint8Array;
  features: number;
}

export function readClinicalValues(table: CsvTable, columns: { name: string; index: number }[]): ClinicalValues {
  const F = columns.length;
  const values = new Float64Array(table.rows.length * F);
  const present = new Uint8Array(table.rows.length * F);
  table.rows.forEach((row, i) => {
    columns.forEach(({ name, index }, f) => {
      const cell = row.cells[index] ?? '';
      if (isMissing(cell)) return;
      const v = parseNumber(cell);
      if (v === undefined) {
        throw new DatasetError('VALUE_NOT_NUMERIC', `"${cell}" is not a number (leave the cell empty or write NA if it is missing)`, { file: table.file, row: row.line, column: name });
      }
      values[i * F + f] = v;
      present[i * F + f] = 1;
    });
  });
  return { values, present, features: F };
}

export interface Standardization {
  mean: number[];
  std: number[];
}

/**
 * Per-feature mean and (population) SD over the present values of the given rows, normally the
 * train split's, so validation and test data never leak into the model's inputs. A constant or
 * never-present feature gets SD 1 (and mean 0 when never present) so that dividing stays finite.
 */
export function fitStandardization(data: ClinicalValues, rows: readonly number[]): Standardization {
  const F = data.features;
  const mean = new Array<number>(F).fill(0);
  const std = new Array<number>(F).fill(1);
  for (let f = 0; f < F; f++) {
    let n = 0;
    let sum = 0;
    for (const i of rows) {
      if (!data.present[i * F + f]) continue;
      n++;
      sum += data.values[i * F + f]!;
    }
    if (n === 0) continue;
    const m = sum / n;
    let sq = 0;
    // Two passes: sum(x^2)/n - m^2 loses all precision on values like 1e9 + small variation.
    for (const i of rows) if (data.present[i * F + f]) sq += (data.values[i * F + f]! - m) ** 2;
    const sd = Math.sqrt(sq / n);
    mean[f] = m;
    std[f] = sd > 1e-12 * Math.max(1, Math.abs(m)) ? sd : 1;
  }
  return { mean, std };
}

/**
 * Standardized values and the presence mask of one row, written at `offset` of `out` and `mask`. A
 * missing value becomes 0, i.e. the train mean, and the mask tells the model it was imputed.
 */
export function writeStandardizedRow(data: ClinicalValues, row: number, s: Standardization, out: Float32Array, mask: Float32Array, offset: number): void {
  const F = data.features;
  for (let f = 0; f < F; f++) {
    const has = data.present[row * F + f] === 1;
    mask[offset + f] = has ? 1 : 0;
    out[offset + f] = has ? (data.values[row * F + f]! - s.mean[f]!) / s.std[f]! : 0;
  }
}
