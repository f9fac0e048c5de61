/** A data set that cannot be read, with the file (and row and column) that the user must fix. */
export class DatasetError extends Error {
  readonly code = 'DATASET_INVALID';
  constructor(
    message: string,
    readonly file: string,
    readonly row?: number,
    readonly column?: string,
  ) {
    super(`${file}${row !== undefined ? `, line ${row}` : ''}${column !== undefined ? `, column "${column}"` : ''}: ${message}`);
  }
}
