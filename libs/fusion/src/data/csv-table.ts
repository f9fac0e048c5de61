import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { DatasetError } from './dataset-error.js';

/** A CSV's header and data rows, each row with the 1-based file line it came from. */
export interface CsvTable {
  file: string;
  header: string[];
  rows: { cells: string[]; line: number }[];
}

const PREFERRED_CSV = 'clinical.csv';

/** The data set's CSV: `clinical.csv`, or else the folder's only `.csv` file. */
export async function findDatasetCsv(dir: string): Promise<string> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new DatasetError('FOLDER_UNREADABLE', `data set folder ${dir} cannot be read: ${(err as Error).message}`, { file: dir });
  }
  if (entries.includes(PREFERRED_CSV)) return join(dir, PREFERRED_CSV);
  const csvs = entries.filter((e) => extname(e).toLowerCase() === '.csv');
  if (csvs.length === 1) return join(dir, csvs[0]!);
  if (csvs.length === 0) throw new DatasetError('CSV_NOT_FOUND', `no ${PREFERRED_CSV} in ${dir} (and no other .csv file there)`, { file: dir });
  throw new DatasetError('CSV_AMBIGUOUS', `${dir} has several CSV files (${csvs.join(', ')}) and no ${PREFERRED_CSV}; rename the one to use`, { file: dir });
}

/** `openPath`: where to read it from when that differs from the name errors should give (its real path). */
export async function readCsvTable(file: string, openPath = file): Promise<CsvTable> {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // bom: spreadsheet exports often start with one, which would otherwise become part of the first column's name.
    // With info: true each record comes with its position; csv-parse's types do not model that.
    records = parse(await readFile(openPath, 'utf8'), { bom: true, skip_empty_lines: true, trim: true, info: true }) as unknown as typeof records;
  } catch (err) {
    const line = (err as { lines?: unknown }).lines;
    const reason = (err as Error).message;
    throw typeof line === 'number'
      ? new DatasetError('CSV_UNREADABLE', `is not a readable CSV: ${reason}`, { file, row: line })
      : new DatasetError('CSV_UNREADABLE', `${file} is not a readable CSV: ${reason}`, { file });
  }
  const [head, ...body] = records;
  if (!head || body.length === 0) throw new DatasetError('CSV_EMPTY', `${file} has ${head ? 'a header but no data rows' : 'no header and no rows'}`, { file });
  // info.lines is the line a record ends on: the right one unless a quoted cell spans lines.
  return { file, header: head.record, rows: body.map((r) => ({ cells: r.record, line: r.info.lines })) };
}

/** The index of a named column, or an error listing the columns there are. */
export function columnIndex(table: CsvTable, name: string): number {
  const i = table.header.indexOf(name);
  if (i < 0) throw new DatasetError('COLUMN_MISSING', `has no column "${name}" (columns: ${table.header.join(', ')})`, { file: table.file, row: 1, column: name });
  return i;
}
