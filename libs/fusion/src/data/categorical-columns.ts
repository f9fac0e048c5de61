import { isMissing } from './clinical-matrix.js';
import type { CsvTable } from './csv-table.js';

/** A categorical column: its CSV position and its vocabulary (index k + 1 = values[k]). */
export interface CategoricalColumn {
  name: string;
  index: number;
  /** The distinct values seen in the training split, sorted; index 0 is kept for missing or unseen. */
  values: string[];
}

/**
 * Builds each column's vocabulary from the given rows (the training split's, so validation and
 * test values never shape the model): the distinct non-missing cells, sorted by UTF-16 code unit
 * (`Array.prototype.sort`), which does not depend on the machine's locale. Values are taken
 * as written: "Male" and "male" are two categories.
 */
export function buildVocabularies(table: CsvTable, columns: { name: string; index: number }[], rows: readonly number[]): CategoricalColumn[] {
  return columns.map(({ name, index }) => {
    const seen = new Set<string>();
    for (const i of rows) {
      const cell = table.rows[i]!.cells[index] ?? '';
      if (!isMissing(cell)) seen.add(cell);
    }
    return { name, index, values: [...seen].sort() };
  });
}

/** Maps a cell to its category index: 1 + its place in the vocabulary, 0 when missing or unseen in training. */
export function categoryIndex(lookup: ReadonlyMap<string, number>, cell: string): number {
  if (isMissing(cell)) return 0;
  return lookup.get(cell) ?? 0;
}

/** Writes one row's category indices at `offset` of `out` (one entry per column). */
export function writeCategoryRow(table: CsvTable, columns: readonly CategoricalColumn[], lookups: readonly ReadonlyMap<string, number>[], row: number, out: Int32Array, offset: number): void {
  columns.forEach((c, k) => {
    out[offset + k] = categoryIndex(lookups[k]!, table.rows[row]!.cells[c.index] ?? '');
  });
}

/** Per column, value -> index (1-based), for fast encoding. */
export function vocabularyLookups(columns: readonly CategoricalColumn[]): Map<string, number>[] {
  return columns.map((c) => new Map(c.values.map((v, k) => [v, k + 1])));
}
