import { TRANSFER_SYNTAX, writeDicom, type DicomImageSpec } from '@medfusion/testing';
import { decodeDicom, DicomUnsupportedError } from './dicom-codec.js';

/** The grey level of each pixel (R of RGBA; G and B are equal to it for a grey image). */
function grey(spec: DicomImageSpec, opts: Parameters<typeof decodeDicom>[1] = {}): number[] {
  const img = decodeDicom(writeDicom(spec), opts);
  expect([img.width, img.height]).toEqual([spec.columns, spec.rows]);
  const out: number[] = [];
  for (let i = 0; i < img.width * img.height; i++) {
    expect([img.rgba[i * 4 + 1], img.rgba[i * 4 + 2], img.rgba[i * 4 + 3]]).toEqual([img.rgba[i * 4], img.rgba[i * 4], 255]);
    out.push(img.rgba[i * 4]!);
  }
  return out;
}

/**
 * CT-like: signed 16-bit stored values, slope 1, intercept -1024, soft-tissue window 40/400. In
 * Hounsfield units the values are -2024, -1024, -160, 0, 40, 160, 239, 1976. DICOM's LINEAR window
 * (PS3.3 C.11.2.1.2.1) is black at or below c - 0.5 - (w-1)/2 = -160, white above
 * c - 0.5 + (w-1)/2 = 239, and ((x - 39.5) / 399 + 0.5) * 255 in between:
 * 0 HU -> 102.26 -> 102, 40 HU -> 127.82 -> 128, 160 HU -> 204.51 -> 205, 239 HU -> 255.
 */
const CT: DicomImageSpec = {
  rows: 2,
  columns: 4,
  pixels: [-1000, 0, 864, 1024, 1064, 1184, 1263, 3000],
  bitsAllocated: 16,
  pixelRepresentation: 1,
  rescaleSlope: 1,
  rescaleIntercept: -1024,
  windowCenter: 40,
  windowWidth: 400,
};
const CT_GREY = [0, 0, 0, 102, 128, 205, 255, 255];

describe('decodeDicom', () => {
  it.each([
    ['explicit VR little endian', TRANSFER_SYNTAX.explicitLittle],
    ['implicit VR little endian', TRANSFER_SYNTAX.implicitLittle],
    ['explicit VR big endian', TRANSFER_SYNTAX.explicitBig],
  ])('windows rescaled signed 16-bit values (%s)', (_name, transferSyntax) => {
    expect(grey({ ...CT, transferSyntax })).toEqual(CT_GREY);
  });

  it('reads a bare data set without preamble (implicit VR little endian)', () => {
    expect(grey({ ...CT, part10: false })).toEqual(CT_GREY);
  });

  it('uses the first of several window values', () => {
    expect(grey({ ...CT, windowCenter: [40, 400], windowWidth: [400, 2000] })).toEqual(CT_GREY);
  });

  it('applies the slope: stored 0..3 with slope 100, intercept -100 under window 100/201', () => {
    // Modality values -100, 0, 100, 200; ramp from -0.5 to 199.5 over (x + 0.5) / 200 * 255 (c=100,w=201):
    // -100 -> 0, 0 -> 0.6375 -> 1, 100 -> 128.1375 -> 128, 200 -> 255.
    expect(grey({ rows: 1, columns: 4, pixels: [0, 1, 2, 3], bitsAllocated: 16, rescaleSlope: 100, rescaleIntercept: -100, windowCenter: 100, windowWidth: 201 })).toEqual([
      0, 1, 128, 255,
    ]);
  });

  it('without a window in the file: the configured one, else the image min..max', () => {
    const noWindow = { ...CT, windowCenter: undefined, windowWidth: undefined };
    expect(grey(noWindow, { window: { center: 40, width: 400 } })).toEqual(CT_GREY);
    // min..max (-2024..1976 HU) maps linearly: (x + 2024) / 4000 * 255.
    expect(grey(noWindow)).toEqual([-2024, -1024, -160, 0, 40, 160, 239, 1976].map((x) => Math.round(((x + 2024) / 4000) * 255)));
    // A file's own window wins over the configured one.
    expect(grey(CT, { window: { center: 1000, width: 10 } })).toEqual(CT_GREY);
  });

  it('LINEAR_EXACT and SIGMOID window functions', () => {
    const base = { rows: 1, columns: 3, pixels: [0, 50, 100], bitsAllocated: 8 as const, windowCenter: 50, windowWidth: 100 };
    // LINEAR_EXACT: (x - 50) / 100 + 0.5 -> 0, 0.5, 1.
    expect(grey({ ...base, voiLutFunction: 'LINEAR_EXACT' })).toEqual([0, 128, 255]);
    // SIGMOID: 1 / (1 + exp(-4 (x - 50) / 100)) -> 0.1192, 0.5, 0.8808.
    expect(grey({ ...base, voiLutFunction: 'SIGMOID' })).toEqual([30, 128, 225]);
  });

  it('8-bit unsigned and signed, 12 bits stored in 16, and MONOCHROME1 inverted', () => {
    // Window 128/256 is the identity on 0..255: black at or below 0, then (x - 127.5) / 255 + 0.5.
    expect(grey({ rows: 1, columns: 3, pixels: [0, 128, 255], bitsAllocated: 8, windowCenter: 128, windowWidth: 256 })).toEqual([0, 128, 255]);
    // Signed 8-bit -128..127 under min-max.
    expect(grey({ rows: 1, columns: 3, pixels: [-128, 0, 127], bitsAllocated: 8, pixelRepresentation: 1 })).toEqual([0, 128, 255]);
    // 12 bits stored: 0xF000 above the high bit must be ignored, and 0x800 is -2048 when signed.
    expect(grey({ rows: 1, columns: 3, pixels: [0xf800, 0xf000, 0x07ff], bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 1 })).toEqual([0, 128, 255]);
    expect(grey({ ...CT, photometric: 'MONOCHROME1' })).toEqual(CT_GREY.map((g) => 255 - g));
  });

  it('takes the first frame of a multi-frame image', () => {
    expect(grey({ rows: 1, columns: 2, numberOfFrames: 2, pixels: [10, 20, 200, 250], bitsAllocated: 8, windowCenter: 128, windowWidth: 256 })).toEqual([10, 20]);
  });

  it('reads 8-bit RGB, interleaved and planar', () => {
    const rgb = (planarConfiguration: 0 | 1, pixels: number[]) =>
      Array.from(decodeDicom(writeDicom({ rows: 1, columns: 2, samplesPerPixel: 3, planarConfiguration, pixels, bitsAllocated: 8 })).rgba);
    expect(rgb(0, [1, 2, 3, 4, 5, 6])).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
    expect(rgb(1, [1, 4, 2, 5, 3, 6])).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
  });

  it('refuses a compressed transfer syntax, naming its UID and what to run', () => {
    const jpeg = writeDicom({ ...CT, transferSyntax: TRANSFER_SYNTAX.jpegBaseline });
    expect(() => decodeDicom(jpeg)).toThrow(DicomUnsupportedError);
    expect(() => decodeDicom(jpeg)).toThrow(
      'uses the compressed transfer syntax 1.2.840.10008.1.2.4.50 (JPEG Baseline (Process 1)), which is not supported; decompress it to explicit VR little endian first, e.g. with dcmtk `dcmdjpeg in.dcm out.dcm`',
    );
    expect(() => decodeDicom(writeDicom({ ...CT, transferSyntax: TRANSFER_SYNTAX.rle }))).toThrow(/1\.2\.840\.10008\.1\.2\.5 \(RLE Lossless\).*dcmdrle/);
    expect(() => decodeDicom(writeDicom({ ...CT, transferSyntax: TRANSFER_SYNTAX.jpeg2000 }))).toThrow(/JPEG 2000\).*gdcmconv --raw/);
  });

  it('a transfer syntax UID named like an Object member is an unknown syntax, not the prototype\'s', () => {
    for (const uid of ['constructor', 'toString']) {
      expect(() => decodeDicom(writeDicom({ ...CT, transferSyntax: uid }))).toThrow(DicomUnsupportedError);
      expect(() => decodeDicom(writeDicom({ ...CT, transferSyntax: uid }))).not.toThrow(/\(Object\)|\(toString\)|undefined/);
    }
  });

  it('refuses colour models it does not decode, and says why a broken file is broken', () => {
    expect(() => decodeDicom(writeDicom({ rows: 1, columns: 1, samplesPerPixel: 3, photometric: 'YBR_FULL', pixels: [1, 2, 3], bitsAllocated: 8 }))).toThrow(DicomUnsupportedError);
    const file = writeDicom(CT);
    expect(() => decodeDicom(file.subarray(0, file.length - 4))).toThrow(/pixel data|not a readable DICOM file/);
    expect(() => decodeDicom(file.subarray(0, 140))).toThrow(/unreadable DICOM file meta header|no TransferSyntaxUID/);
  });
});
