import { HttpException, HttpStatus } from '@nestjs/common';
import { relative, sep } from 'node:path';
import type { ArchiveError, ArchiveErrorCode, DatasetError } from '@medfusion/fusion';
import type { ApiErrorBody } from '../common/api-error.js';

const ARCHIVE_STATUS: Record<ArchiveErrorCode, HttpStatus> = {
  ARCHIVE_UNSUPPORTED: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  ARCHIVE_CORRUPT: HttpStatus.BAD_REQUEST,
  ENTRY_UNSAFE: HttpStatus.BAD_REQUEST,
  TOO_MANY_ENTRIES: HttpStatus.PAYLOAD_TOO_LARGE,
  TOO_LARGE: HttpStatus.PAYLOAD_TOO_LARGE,
  COMPRESSION_RATIO: HttpStatus.PAYLOAD_TOO_LARGE,
  // The archive, not the server, is what took too long: a client error that says how to get through (register by path).
  UNPACK_TIMEOUT: HttpStatus.UNPROCESSABLE_ENTITY,
};

/** The gateway's error shape plus where in the archive the problem is, for clients that point at it. */
interface UploadErrorBody extends ApiErrorBody {
  location: { code: string; file?: string; line?: number; column?: string; entry?: string };
}

function uploadError(status: HttpStatus, message: string, location: UploadErrorBody['location']): HttpException {
  const body: UploadErrorBody = { statusCode: status, error: HttpStatus[status] ?? 'Error', message: `file: ${message}`, details: [{ field: 'file', message }], location };
  return new HttpException(body, status);
}

/** An archive that cannot be unpacked: the entry at fault is named in the message and in `location.entry`. */
export function archiveHttpError(err: ArchiveError): HttpException {
  return uploadError(ARCHIVE_STATUS[err.code], err.message, { code: err.code, entry: err.entry });
}

/**
 * A data set that does not load: 422, with paths relative to the archive (the server's folders
 * mean nothing to the client) and the CSV line and column that the loader named.
 */
export function datasetHttpError(err: DatasetError, unpackedTo: string): HttpException {
  const message = err.message.split(unpackedTo + sep).join('').split(unpackedTo).join('the archive');
  const file = relative(unpackedTo, err.file) || '.';
  return uploadError(HttpStatus.UNPROCESSABLE_ENTITY, `the data set is not valid: ${message}`, { code: err.code, file, line: err.row, column: err.column });
}
