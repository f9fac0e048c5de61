import { inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet, type ParseDicomOptions } from 'dicom-parser';
import type { DecodedImage } from './png-codec.js';

/** A VOI window in modality units (after rescale slope/intercept), e.g. Hounsfield units for CT. */
export interface DicomWindow {
  center: number;
  width: number;
}

export interface DicomDecodeOptions {
  /** Used when the file has no usable WindowCenter/WindowWidth; without it the image's min..max is used. */
  window?: DicomWindow;
}

/**
 * The file is valid DICOM but stores its pixels in a way this reader does not decode (a compressed
 * transfer syntax, a colour model other than grey or RGB, 1- or 32-bit samples). The message says
 * what to do about it.
 */
export class DicomUnsupportedError extends Error {
  override readonly name = 'DicomUnsupportedError';
}

export const DICM_MAGIC_OFFSET = 128;

/** A DICOM Part-10 file: 128-byte preamble, then "DICM". */
export function hasDicomPreamble(bytes: Buffer): boolean {
  return bytes.length >= DICM_MAGIC_OFFSET + 4 && bytes.toString('latin1', DICM_MAGIC_OFFSET, DICM_MAGIC_OFFSET + 4) === 'DICM';
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const NATIVE_SYNTAXES = new Set([IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE, EXPLICIT_BE]);

/** Encapsulated (compressed) transfer syntaxes by UID, with what to run to turn each into native pixels. */
const COMPRESSED_SYNTAXES: Record<string, { name: string; fix: string }> = {
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', fix: 'dcmtk `dcmdjpeg in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4)', fix: 'dcmtk `dcmdjpeg in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG Lossless, Non-Hierarchical (Process 14)', fix: 'dcmtk `dcmdjpeg in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.70': { name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction', fix: 'dcmtk `dcmdjpeg in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless', fix: 'dcmtk `dcmdjpls in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS Lossy (Near-Lossless)', fix: 'dcmtk `dcmdjpls in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 (Lossless Only)', fix: 'GDCM `gdcmconv --raw in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', fix: 'GDCM `gdcmconv --raw in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.201': { name: 'High-Throughput JPEG 2000 (Lossless Only)', fix: 'GDCM `gdcmconv --raw in.dcm out.dcm`' },
  '1.2.840.10008.1.2.4.203': { name: 'High-Throughput JPEG 2000', fix: 'GDCM `gdcmconv --raw in.dcm out.dcm`' },
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', fix: 'dcmtk `dcmdrle in.dcm out.dcm`' },
};

/** Same bound as the other decoders: a header must not be able to ask for gigabytes. */
export const DICOM_MAX_PIXELS = 64 * 1024 * 1024;
/** Deflated data sets are inflated in memory; this bounds a deflate bomb. */
const MAX_INFLATED_BYTES = 1024 * 1024 * 1024;

/**
 * Decodes the first frame of a DICOM image with native (uncompressed or deflated) pixel data:
 * implicit or explicit VR little endian, explicit VR big endian, 8 or 16 bits allocated, signed or
 * unsigned. Grey images go through the modality LUT (rescale slope/intercept) and a VOI window
 * (the file's first WindowCenter/WindowWidth, else `opts.window`, else the image's min..max) to
 * 0..255, and MONOCHROME1 is inverted so that bright always means dense. The result is 8-bit: a
 * 16-bit image keeps its full precision only inside the window, which is what windowing is for (a
 * display range); choose the window to keep the tissue the model should see.
 *
 * Multi-frame images (cine, volumes) contribute their first frame: the loader works on one 2D
 * image per CSV row, so a volume should be split into one file (or row) per slice beforehand.
 */
export function decodeDicom(bytes: Buffer, opts: DicomDecodeOptions = {}): DecodedImage {
  const part10 = hasDicomPreamble(bytes);
  // Without a Part-10 header the data set is in DICOM's default syntax, implicit VR little endian.
  const syntax = part10 ? transferSyntaxOf(bytes) : IMPLICIT_LE;
  if (!NATIVE_SYNTAXES.has(syntax)) throw unsupportedSyntax(syntax);
  const ds = parse(bytes, part10 ? {} : { TransferSyntaxUID: IMPLICIT_LE });

  const rows = required(ds, 'x00280010', 'Rows (0028,0010)');
  const columns = required(ds, 'x00280011', 'Columns (0028,0011)');
  const bitsAllocated = required(ds, 'x00280100', 'BitsAllocated (0028,0100)');
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const highBit = ds.uint16('x00280102') ?? bitsStored - 1;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const samples = ds.uint16('x00280002') ?? 1;
  const photometric = (ds.string('x00280004') ?? (samples === 3 ? 'RGB' : 'MONOCHROME2')).toUpperCase();

  if (rows < 1 || columns < 1) throw new Error(`has an empty image (${rows} x ${columns})`);
  if (rows * columns > DICOM_MAX_PIXELS) throw new DicomUnsupportedError(`is ${columns} x ${rows} pixels, more than the ${DICOM_MAX_PIXELS} pixels allowed per image`);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw new DicomUnsupportedError(`has ${bitsAllocated} bits allocated per sample; only 8 and 16 are supported`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit + 1 < bitsStored || highBit >= bitsAllocated) {
    throw new Error(`has inconsistent bit layout: BitsAllocated ${bitsAllocated}, BitsStored ${bitsStored}, HighBit ${highBit}`);
  }

  const pixelData = ds.elements.x7fe00010;
  if (!pixelData) throw new Error('has no pixel data (7FE0,0010); it is not an image');
  const frameBytes = rows * columns * samples * (bitsAllocated / 8);
  if (pixelData.length < frameBytes) {
    throw new Error(`pixel data holds ${pixelData.length} bytes but one ${columns} x ${rows} frame of ${samples} x ${bitsAllocated}-bit samples needs ${frameBytes}`);
  }
  const sample = sampleReader(ds.byteArray, pixelData.dataOffset, bitsAllocated, bitsStored, highBit, signed, syntax !== EXPLICIT_BE);

  if (samples === 3) {
    if (photometric !== 'RGB' || bitsAllocated !== 8) {
      throw new DicomUnsupportedError(`has ${samples} samples per pixel as ${photometric} with ${bitsAllocated} bits; only 8-bit RGB colour is supported (convert it to RGB or greyscale)`);
    }
    return rgbImage(sample, columns, rows, ds.uint16('x00280006') === 1);
  }
  if (samples !== 1 || (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')) {
    throw new DicomUnsupportedError(`has photometric interpretation ${photometric} with ${samples} sample(s) per pixel; only MONOCHROME1, MONOCHROME2 and RGB are supported`);
  }
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const n = rows * columns;
  const modality = new Float64Array(n);
  for (let i = 0; i < n; i++) modality[i] = sample(i) * slope + intercept;

  const grey = applyWindow(modality, chooseWindow(ds, modality, opts));
  if (photometric === 'MONOCHROME1') for (let i = 0; i < n; i++) grey[i] = 255 - grey[i]!;
  const rgba = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    const g = grey[i]!;
    rgba[i * 4] = g;
    rgba[i * 4 + 1] = g;
    rgba[i * 4 + 2] = g;
    rgba[i * 4 + 3] = 255;
  }
  return { width: columns, height: rows, rgba };
}

function transferSyntaxOf(bytes: Buffer): string {
  let meta: DataSet;
  try {
    meta = dicomParser.readPart10Header(bytes);
  } catch (err) {
    throw new Error(`has an unreadable DICOM file meta header: ${describe(err)}`);
  }
  const uid = meta.string('x00020010')?.replace(/\0+$/, '').trim();
  if (!uid) throw new Error('has no TransferSyntaxUID (0002,0010) in its file meta header');
  return uid;
}

function unsupportedSyntax(uid: string): DicomUnsupportedError {
  // The UID comes from the file: an own-property lookup keeps `constructor` & co. unknown.
  const known = Object.hasOwn(COMPRESSED_SYNTAXES, uid) ? COMPRESSED_SYNTAXES[uid] : undefined;
  if (known) {
    return new DicomUnsupportedError(
      `uses the compressed transfer syntax ${uid} (${known.name}), which is not supported; decompress it to explicit VR little endian first, e.g. with ${known.fix}`,
    );
  }
  return new DicomUnsupportedError(
    `uses the transfer syntax ${uid}, which is not supported (only implicit/explicit VR little endian, deflated and explicit VR big endian); convert it first, e.g. with GDCM \`gdcmconv --raw in.dcm out.dcm\``,
  );
}

function parse(bytes: Buffer, options: ParseDicomOptions): DataSet {
  try {
    return dicomParser.parseDicom(bytes, { ...options, inflater: boundedInflater });
  } catch (err) {
    throw new Error(`is not a readable DICOM file: ${describe(err)}`);
  }
}

/** dicom-parser's own inflater has no output bound; this one refuses a deflate bomb. */
function boundedInflater(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateRawSync(bytes.subarray(position), { maxOutputLength: MAX_INFLATED_BYTES });
  const full = Buffer.alloc(position + inflated.length);
  full.set(bytes.subarray(0, position), 0);
  full.set(inflated, position);
  return full;
}

function required(ds: DataSet, tag: string, name: string): number {
  const v = ds.uint16(tag);
  if (v === undefined) throw new Error(`has no ${name}`);
  return v;
}

/**
 * Stored sample i of the first frame: the BitsStored bits ending at HighBit, sign-extended when
 * PixelRepresentation is 1 (so 12-bit signed CT stored in 16 bits reads right).
 */
function sampleReader(bytes: Uint8Array, offset: number, allocated: number, stored: number, highBit: number, signed: boolean, littleEndian: boolean): (i: number) => number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  const shift = highBit + 1 - stored;
  const mask = 2 ** stored - 1;
  const signBit = 2 ** (stored - 1);
  const full = 2 ** stored;
  const read = allocated === 8 ? (i: number) => view.getUint8(i) : (i: number) => view.getUint16(i * 2, littleEndian);
  return (i) => {
    const v = (read(i) >>> shift) & mask;
    return signed && v >= signBit ? v - full : v;
  };
}

type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
interface Window extends DicomWindow {
  fn: VoiFunction;
}

function chooseWindow(ds: DataSet, values: Float64Array, opts: DicomDecodeOptions): Window {
  const center = ds.floatString('x00281050', 0);
  const width = ds.floatString('x00281051', 0);
  if (center !== undefined && width !== undefined && Number.isFinite(center) && width >= 1) {
    const fn = (ds.string('x00281056') ?? 'LINEAR').toUpperCase();
    return { center, width, fn: fn === 'LINEAR_EXACT' || fn === 'SIGMOID' ? fn : 'LINEAR' };
  }
  if (opts.window) return { ...opts.window, fn: 'LINEAR' };
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  // LINEAR_EXACT over [min, max] maps min to 0 and max to 255; a flat image becomes all black.
  return { center: (min + max) / 2, width: Math.max(max - min, Number.MIN_VALUE), fn: 'LINEAR_EXACT' };
}

/** The VOI LUT functions of DICOM PS3.3 C.11.2.1.2 onto 0..255. */
function applyWindow(values: Float64Array, { center: c, width: w, fn }: Window): Uint8Array {
  const out = new Uint8Array(values.length);
  const to8 = (y: number) => Math.min(255, Math.max(0, Math.round(y * 255)));
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (fn === 'LINEAR') {
      // Integer-centred ramp: below c - 0.5 - (w-1)/2 is black, above c - 0.5 + (w-1)/2 white.
      out[i] = x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 255 : to8((x - (c - 0.5)) / (w - 1) + 0.5);
    } else if (fn === 'LINEAR_EXACT') {
      out[i] = to8((x - c) / w + 0.5);
    } else {
      out[i] = to8(1 / (1 + Math.exp((-4 * (x - c)) / w)));
    }
  }
  return out;
}

function rgbImage(sample: (i: number) => number, width: number, height: number, planar: boolean): DecodedImage {
  const n = width * height;
  const rgba = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = sample(planar ? c * n + i : i * 3 + c);
    rgba[i * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

/** dicom-parser throws strings as well as Errors. */
function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
