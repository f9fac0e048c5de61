import { readFile } from 'node:fs/promises';
import { DatasetError, type DatasetErrorLocation } from './dataset-error.js';
import { decodePng, type DecodedImage } from './png-codec.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);

/**
 * Reads and decodes one image named by a CSV cell; `at` is that cell, so every error points the
 * user at the row to fix. The format is told from the file's first bytes, not its name. JPEG is
 * refused with a clear message: no pure-JS JPEG decoder is installed in this workspace yet.
 */
export async function readImageFile(path: string, at: DatasetErrorLocation): Promise<DecodedImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(err as Error).message}`;
    throw new DatasetError('IMAGE_NOT_FOUND', `image ${path} ${reason}`, at);
  }
  if (bytes.subarray(0, JPEG_SIGNATURE.length).equals(JPEG_SIGNATURE)) {
    throw new DatasetError('IMAGE_UNSUPPORTED', `image ${path} is a JPEG; only PNG images are supported yet (convert it to PNG)`, at);
  }
  if (!bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    throw new DatasetError('IMAGE_UNSUPPORTED', `image ${path} is not a PNG file; only PNG images are supported yet`, at);
  }
  try {
    return decodePng(bytes);
  } catch (err) {
    throw new DatasetError('IMAGE_UNDECODABLE', `image ${path} cannot be decoded: ${(err as Error).message}`, at);
  }
}
