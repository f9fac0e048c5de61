import { DatasetError } from './dataset-error.js';

export interface LabelEncoding {
  /** Class k's name; for integer labels, the integer itself. */
  classNames: string[];
  /** The class index of a raw label seen while building the encoding. */
  indexOf(raw: string): number;
}

/**
 * With `known` (the class names, in class-index order) every label must be one of them, so a typo
 * is an error on its row instead of a class of its own. Otherwise integer labels are used as they
 * are and must be 0..K-1 without gaps (a gap would be a class with
 * no example, which usually means 1-based labels). Any other labels are names, mapped in sorted
 * order to 0..K-1, so the mapping does not depend on row order.
 */
export function encodeLabels(raw: { value: string; line: number }[], file: string, column: string, known?: readonly string[]): LabelEncoding {
  const empty = raw.find((r) => r.value === '');
  if (empty) throw new DatasetError('LABEL_INVALID', 'the label is empty', { file, row: empty.line, column });
  if (known) {
    const encoding = encodeKnownLabels(raw, file, column, known);
    refuseSingleClass(raw, file, column, known);
    return encoding;
  }
  refuseSingleClass(raw, file, column);
  const distinct = [...new Set(raw.map((r) => r.value))];
  if (distinct.every((v) => /^\d+$/.test(v))) {
    const present = new Set(distinct.map(Number));
    const k = Math.max(...present) + 1;
    if (k !== present.size) {
      const found = [...present].sort((a, b) => a - b);
      const gaps: number[] = [];
      for (let i = 0; gaps.length < 5 && i < k; i++) if (!present.has(i)) gaps.push(i);
      const shown = (xs: number[], more: boolean) => `${xs.join(', ')}${more ? ', ...' : ''}`;
      throw new DatasetError(
        'LABEL_INVALID',
        `integer labels must be 0..K-1 without gaps; found ${shown(found.slice(0, 10), found.length > 10)}, missing ${shown(gaps, k - present.size > gaps.length)}`,
        { file, column },
      );
    }
    return { classNames: Array.from({ length: k }, (_, i) => String(i)), indexOf: (v) => Number(v) };
  }
  const classNames = distinct.sort();
  const index = new Map(classNames.map((c, k) => [c, k]));
  return { classNames, indexOf: (v) => index.get(v)! };
}

/** A classifier learns nothing from one class (and a 1-class model cannot be trained), so such data is refused where it is read. */
function refuseSingleClass(raw: { value: string }[], file: string, column: string, known?: readonly string[]): void {
  const distinct = new Set(raw.map((r) => r.value));
  if (distinct.size >= 2 || raw.length === 0) return;
  const [only] = distinct;
  const missing = known?.filter((c) => c !== only) ?? [];
  const absent = missing.length > 0 ? ` (no row is ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})` : '';
  throw new DatasetError(
    'LABEL_SINGLE_CLASS',
    `every one of the ${raw.length} rows has the label "${only}"${absent}: a classifier needs rows of at least 2 classes`,
    { file, column },
  );
}

function encodeKnownLabels(raw: { value: string; line: number }[], file: string, column: string, known: readonly string[]): LabelEncoding {
  if (known.length === 0 || new Set(known).size !== known.length) throw new RangeError(`class names must be distinct and non-empty, got [${known.join(', ')}]`);
  const index = new Map(known.map((c, k) => [c, k]));
  const unknown = raw.find((r) => !index.has(r.value));
  if (unknown) {
    throw new DatasetError('LABEL_INVALID', `unknown label "${unknown.value}" (the classes are ${known.join(', ')})`, { file, row: unknown.line, column });
  }
  return { classNames: [...known], indexOf: (v) => index.get(v)! };
}
