/** What is wrong with a data set; stable, so callers can branch on it without parsing messages. */
export type DatasetErrorCode =
  | 'FOLDER_UNREADABLE'
  | 'CSV_NOT_FOUND'
  | 'CSV_AMBIGUOUS'
  | 'CSV_UNREADABLE'
  | 'CSV_EMPTY'
  | 'COLUMN_MISSING'
  | 'VALUE_NOT_NUMERIC'
  | 'LABEL_INVALID'
  | 'LABEL_SINGLE_CLASS'
  | 'SPLIT_UNKNOWN'
  | 'SPLIT_EMPTY'
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_OUTSIDE_DATASET'
  | 'IMAGE_UNSUPPORTED'
  | 'IMAGE_UNDECODABLE'
  /** A file the reader was told not to open (DatasetReadOptions.resolveFile refused it: outside the data roots). */
  | 'FILE_NOT_ALLOWED';

export interface DatasetErrorLocation {
  /** The file (or folder) to fix. */
  file: string;
  /** 1-based line of the CSV (line 1 is the header). */
  row?: number;
  column?: string;
}

/**
 * A data set that cannot be read, with the file (and CSV line and column) the user must fix. The
 * message starts with that location, `file, line 4, column "age": ...`; an error about a whole file
 * or folder has neither line nor column, and its detail names the file itself.
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly file: string;
  readonly row?: number;
  readonly column?: string;

  constructor(
    readonly code: DatasetErrorCode,
    detail: string,
    at: DatasetErrorLocation,
  ) {
    super(at.row === undefined && at.column === undefined ? detail : `${describeLocation(at)}: ${detail}`);
    this.file = at.file;
    this.row = at.row;
    this.column = at.column;
  }
}

function describeLocation({ file, row, column }: DatasetErrorLocation): string {
  return [file, row !== undefined ? `line ${row}` : undefined, column !== undefined ? `column "${column}"` : undefined].filter(Boolean).join(', ');
}
