import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { DatasetError, type DatasetErrorLocation } from './dataset-error.js';
import { decodeDicom, DicomUnsupportedError, hasDicomPreamble, type DicomWindow } from './dicom-codec.js';
import { decodeJpeg, JPEG_LIMITS } from './jpeg-codec.js';
import { decodePng, type DecodedImage } from './png-codec.js';

export type ImageFormat = 'png' | 'jpeg' | 'dicom';

/** A decoded image and the format its bytes were in. */
export interface ImageFile extends DecodedImage {
  format: ImageFormat;
}

export interface ImageReadOptions {
  /** DICOM only: the window to use when a file has none (see decodeDicom). */
  dicomWindow?: DicomWindow;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);
/** pngjs allocates width x height x 4 bytes from the header; refuse before it does (same bound as JPEG). */
const PNG_MAX_PIXELS = JPEG_LIMITS.maxResolutionInMP * 1024 * 1024;

/**
 * The format told from a file's first bytes, not its name; a `.dcm` without the Part-10 preamble
 * (a bare DICOM data set, which has no magic number) is the one case the name decides.
 */
export function imageFormatOf(bytes: Buffer, path: string): ImageFormat | undefined {
  if (bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) return 'png';
  if (bytes.subarray(0, JPEG_SIGNATURE.length).equals(JPEG_SIGNATURE)) return 'jpeg';
  if (hasDicomPreamble(bytes) || extname(path).toLowerCase() === '.dcm') return 'dicom';
  return undefined;
}

/**
 * Reads and decodes one image named by a CSV cell; `at` is that cell, so every error points the
 * user at the row to fix. PNG, JPEG and DICOM are read; each has its own decoder module.
 */
export async function readImageFile(path: string, at: DatasetErrorLocation, opts: ImageReadOptions = {}): Promise<ImageFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(err as Error).message}`;
    throw new DatasetError('IMAGE_NOT_FOUND', `image ${path} ${reason}`, at);
  }
  const format = imageFormatOf(bytes, path);
  if (!format) throw new DatasetError('IMAGE_UNSUPPORTED', `image ${path} is neither PNG, JPEG nor DICOM (told from its first bytes)`, at);
  try {
    return { format, ...decode(format, bytes, opts) };
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    const code = err instanceof DicomUnsupportedError || err instanceof PixelLimitError ? 'IMAGE_UNSUPPORTED' : 'IMAGE_UNDECODABLE';
    const what = format === 'dicom' ? 'DICOM file' : format.toUpperCase();
    // The DICOM decoder's messages are predicates ("uses the compressed transfer syntax ..."); the others are the library's own words.
    const detail = format === 'dicom' ? `${what} ${path} ${(err as Error).message}` : `image ${path} cannot be decoded as ${what}: ${(err as Error).message}`;
    throw new DatasetError(code, detail, at);
  }
}

class PixelLimitError extends Error {}

function decode(format: ImageFormat, bytes: Buffer, opts: ImageReadOptions): DecodedImage {
  switch (format) {
    case 'png': {
      // IHDR is always the first chunk: width and height are big-endian at bytes 16 and 20.
      if (bytes.length >= 24 && bytes.readUInt32BE(16) * bytes.readUInt32BE(20) > PNG_MAX_PIXELS) {
        throw new PixelLimitError(`it is ${bytes.readUInt32BE(16)} x ${bytes.readUInt32BE(20)} pixels, more than the ${PNG_MAX_PIXELS} allowed`);
      }
      return decodePng(bytes);
    }
    case 'jpeg':
      return decodeJpeg(bytes);
    case 'dicom':
      return decodeDicom(bytes, { window: opts.dicomWindow });
  }
}
