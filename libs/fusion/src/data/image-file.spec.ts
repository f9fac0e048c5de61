import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRANSFER_SYNTAX, writeDicom } from '@medfusion/testing';
import { DatasetError } from './dataset-error.js';
import { readImageFile } from './image-file.js';
import { decodeJpeg, encodeJpeg } from './jpeg-codec.js';
import { encodeGrayPng } from './png-codec.js';

const dir = mkdtempSync(join(tmpdir(), 'mf-image-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = { file: 'clinical.csv', row: 2, column: 'image' };

function file(name: string, bytes: Buffer): string {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
}

/** A w x h RGBA image of one colour. */
const solid = (w: number, h: number, rgb: [number, number, number]) => Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : rgb[i % 4]!));

describe('JPEG', () => {
  it('decodes what jpeg-js encoded (lossy: within a few levels), grey and colour', () => {
    const img = decodeJpeg(encodeJpeg(solid(16, 8, [200, 40, 90]), 16, 8, 95));
    expect([img.width, img.height, img.rgba.length]).toEqual([16, 8, 16 * 8 * 4]);
    for (let i = 0; i < 16 * 8; i++) {
      expect(Math.abs(img.rgba[i * 4]! - 200)).toBeLessThanOrEqual(3);
      expect(Math.abs(img.rgba[i * 4 + 1]! - 40)).toBeLessThanOrEqual(3);
      expect(Math.abs(img.rgba[i * 4 + 2]! - 90)).toBeLessThanOrEqual(3);
      expect(img.rgba[i * 4 + 3]).toBe(255);
    }
  });

  it('refuses a header that asks for more than the pixel limit before allocating it', () => {
    const jpeg = encodeJpeg(solid(8, 8, [1, 2, 3]), 8, 8);
    // The SOF0 segment holds height and width (big endian) 3 and 5 bytes after its length.
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(60000, sof + 5);
    jpeg.writeUInt16BE(60000, sof + 7);
    expect(() => decodeJpeg(jpeg)).toThrow(/maxResolutionInMP limit exceeded/);
  });
});

describe('readImageFile tells the format from the bytes', () => {
  it('reads PNG, JPEG and DICOM whatever their names', async () => {
    const png = await readImageFile(file('a.jpg', encodeGrayPng(new Uint8Array(4).fill(7), 2, 2)), at);
    expect([png.format, png.width, png.rgba[0]]).toEqual(['png', 2, 7]);
    const jpeg = await readImageFile(file('b.png', encodeJpeg(solid(8, 8, [128, 128, 128]), 8, 8)), at);
    expect([jpeg.format, jpeg.width, jpeg.height]).toEqual(['jpeg', 8, 8]);
    const dicom = await readImageFile(file('c.bin', writeDicom({ rows: 1, columns: 2, pixels: [0, 255], bitsAllocated: 8, windowCenter: 128, windowWidth: 256 })), at);
    expect([dicom.format, Array.from(dicom.rgba)]).toEqual(['dicom', [0, 0, 0, 255, 255, 255, 255, 255]]);
    // A bare DICOM data set has no magic number: only its .dcm name says what it is.
    const bare = await readImageFile(file('d.dcm', writeDicom({ rows: 1, columns: 1, pixels: [9], bitsAllocated: 8, part10: false })), at);
    expect(bare.format).toBe('dicom');
  });

  it('uses the configured DICOM window for files without one', async () => {
    const path = file('ct.dcm', writeDicom({ rows: 1, columns: 3, pixels: [-1000, 40, 1000], bitsAllocated: 16, pixelRepresentation: 1 }));
    const img = await readImageFile(path, at, { dicomWindow: { center: 40, width: 400 } });
    expect([img.rgba[0], img.rgba[4], img.rgba[8]]).toEqual([0, 128, 255]);
  });

  it('errors name the cell and say what is wrong', async () => {
    const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as DatasetError);
    const compressed = await err(readImageFile(file('j.dcm', writeDicom({ rows: 1, columns: 1, pixels: [1], bitsAllocated: 8, transferSyntax: TRANSFER_SYNTAX.jpegBaseline })), at));
    expect(compressed).toBeInstanceOf(DatasetError);
    expect(compressed).toMatchObject({ code: 'IMAGE_UNSUPPORTED', file: 'clinical.csv', row: 2, column: 'image' });
    expect(compressed!.message).toBe(
      `clinical.csv, line 2, column "image": DICOM file ${join(dir, 'j.dcm')} uses the compressed transfer syntax 1.2.840.10008.1.2.4.50 (JPEG Baseline (Process 1)), which is not supported; decompress it to explicit VR little endian first, e.g. with dcmtk \`dcmdjpeg in.dcm out.dcm\``,
    );
    const text = await err(readImageFile(file('t.png', Buffer.from('not an image')), at));
    expect(text).toMatchObject({ code: 'IMAGE_UNSUPPORTED', message: expect.stringMatching(/t\.png is neither PNG, JPEG nor DICOM/) });
    const truncatedJpeg = await err(readImageFile(file('x.jpg', encodeJpeg(solid(8, 8, [1, 2, 3]), 8, 8).subarray(0, 30)), at));
    expect(truncatedJpeg).toMatchObject({ code: 'IMAGE_UNDECODABLE', message: expect.stringMatching(/x\.jpg cannot be decoded as JPEG/) });
    const hugePng = encodeGrayPng(new Uint8Array(4), 2, 2);
    hugePng.writeUInt32BE(100000, 16);
    hugePng.writeUInt32BE(100000, 20);
    expect(await err(readImageFile(file('huge.png', hugePng), at))).toMatchObject({ code: 'IMAGE_UNSUPPORTED', message: expect.stringMatching(/100000 x 100000 pixels, more than/) });
    expect(await err(readImageFile(join(dir, 'nope.dcm'), at))).toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });
});
