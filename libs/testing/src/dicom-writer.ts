/**
 * Writes small DICOM Part-10 files for tests (the loader's DICOM reader is tested on files written
 * here, never on downloaded samples). Enough of the standard to be read by any conformant parser:
 * 128-byte preamble, "DICM", the file meta group (always explicit VR little endian, with its group
 * length), then the data set in the chosen transfer syntax, elements in ascending tag order and
 * every value padded to an even length.
 */

export const TRANSFER_SYNTAX = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  explicitBig: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpeg2000: '1.2.840.10008.1.2.4.91',
  rle: '1.2.840.10008.1.2.5',
} as const;

const NATIVE = new Set<string>([TRANSFER_SYNTAX.implicitLittle, TRANSFER_SYNTAX.explicitLittle, TRANSFER_SYNTAX.explicitBig]);
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

export interface DicomImageSpec {
  rows: number;
  columns: number;
  /** Stored values, row-major, frame after frame (samples interleaved, or planar when planarConfiguration is 1). */
  pixels: ArrayLike<number>;
  bitsAllocated: 8 | 16;
  bitsStored?: number;
  highBit?: number;
  /** 1: stored values are two's complement. */
  pixelRepresentation?: 0 | 1;
  samplesPerPixel?: 1 | 3;
  planarConfiguration?: 0 | 1;
  photometric?: 'MONOCHROME1' | 'MONOCHROME2' | 'RGB' | 'YBR_FULL' | 'PALETTE COLOR';
  numberOfFrames?: number;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  /** One value or several (written multi-valued, backslash-separated). */
  windowCenter?: number | number[];
  windowWidth?: number | number[];
  voiLutFunction?: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
  /** A UID of TRANSFER_SYNTAX or any other; compressed ones get an encapsulated pixel data element holding `pixels` as one fragment. */
  transferSyntax?: string;
  /** false: write the bare data set (implicit VR little endian) without preamble and meta header. */
  part10?: boolean;
}

interface Element {
  tag: number;
  vr: string;
  value: Buffer;
  /** Encapsulated pixel data: undefined length, already holding its items and delimiter. */
  undefinedLength?: boolean;
}

export function writeDicom(spec: DicomImageSpec): Buffer {
  const syntax = spec.part10 === false ? TRANSFER_SYNTAX.implicitLittle : (spec.transferSyntax ?? TRANSFER_SYNTAX.explicitLittle);
  const explicit = syntax !== TRANSFER_SYNTAX.implicitLittle;
  const little = syntax !== TRANSFER_SYNTAX.explicitBig;
  const samples = spec.samplesPerPixel ?? 1;
  const frames = spec.numberOfFrames ?? 1;
  const expected = spec.rows * spec.columns * samples * frames;
  if (spec.pixels.length !== expected) throw new RangeError(`expected ${expected} stored values, got ${spec.pixels.length}`);
  const bitsStored = spec.bitsStored ?? spec.bitsAllocated;
  const us = (v: number) => uint16(v, little);
  const ds = (v: number | number[]) => text([v].flat().map(String).join('\\'));

  const elements: Element[] = [
    { tag: 0x00080016, vr: 'UI', value: uid(SECONDARY_CAPTURE) },
    { tag: 0x00080018, vr: 'UI', value: uid('1.2.826.0.1.3680043.10.1077.1') },
    { tag: 0x00280002, vr: 'US', value: us(samples) },
    { tag: 0x00280004, vr: 'CS', value: text(spec.photometric ?? (samples === 3 ? 'RGB' : 'MONOCHROME2')) },
  ];
  if (samples === 3) elements.push({ tag: 0x00280006, vr: 'US', value: us(spec.planarConfiguration ?? 0) });
  if (spec.numberOfFrames !== undefined) elements.push({ tag: 0x00280008, vr: 'IS', value: text(String(frames)) });
  elements.push(
    { tag: 0x00280010, vr: 'US', value: us(spec.rows) },
    { tag: 0x00280011, vr: 'US', value: us(spec.columns) },
    { tag: 0x00280100, vr: 'US', value: us(spec.bitsAllocated) },
    { tag: 0x00280101, vr: 'US', value: us(bitsStored) },
    { tag: 0x00280102, vr: 'US', value: us(spec.highBit ?? bitsStored - 1) },
    { tag: 0x00280103, vr: 'US', value: us(spec.pixelRepresentation ?? 0) },
  );
  if (spec.windowCenter !== undefined) elements.push({ tag: 0x00281050, vr: 'DS', value: ds(spec.windowCenter) });
  if (spec.windowWidth !== undefined) elements.push({ tag: 0x00281051, vr: 'DS', value: ds(spec.windowWidth) });
  if (spec.rescaleIntercept !== undefined) elements.push({ tag: 0x00281052, vr: 'DS', value: ds(spec.rescaleIntercept) });
  if (spec.rescaleSlope !== undefined) elements.push({ tag: 0x00281053, vr: 'DS', value: ds(spec.rescaleSlope) });
  if (spec.voiLutFunction !== undefined) elements.push({ tag: 0x00281056, vr: 'CS', value: text(spec.voiLutFunction) });
  const raw = pixelBytes(spec.pixels, spec.bitsAllocated, little);
  elements.push(
    NATIVE.has(syntax)
      ? { tag: 0x7fe00010, vr: spec.bitsAllocated === 8 ? 'OB' : 'OW', value: pad(raw, 0) }
      : { tag: 0x7fe00010, vr: 'OB', value: encapsulated(raw), undefinedLength: true },
  );
  const body = Buffer.concat(elements.map((e) => encodeElement(e, explicit, little)));
  if (spec.part10 === false) return body;

  const meta = Buffer.concat(
    [
      { tag: 0x00020001, vr: 'OB', value: Buffer.from([0, 1]) },
      { tag: 0x00020002, vr: 'UI', value: uid(SECONDARY_CAPTURE) },
      { tag: 0x00020003, vr: 'UI', value: uid('1.2.826.0.1.3680043.10.1077.1') },
      { tag: 0x00020010, vr: 'UI', value: uid(syntax) },
      { tag: 0x00020012, vr: 'UI', value: uid('1.2.826.0.1.3680043.10.1077') },
    ].map((e) => encodeElement(e, true, true)),
  );
  const groupLength = encodeElement({ tag: 0x00020000, vr: 'UL', value: uint32(meta.length, true) }, true, true);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), groupLength, meta, body]);
}

const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

function encodeElement(e: Element, explicit: boolean, little: boolean): Buffer {
  const head = Buffer.alloc(explicit && !LONG_LENGTH_VRS.has(e.vr) ? 8 : explicit ? 12 : 8);
  const group = e.tag >>> 16;
  const element = e.tag & 0xffff;
  // The file meta group is little endian even in a big endian file.
  const le = little || group === 0x0002;
  const length = e.undefinedLength ? 0xffffffff : e.value.length;
  if (le) {
    head.writeUInt16LE(group, 0);
    head.writeUInt16LE(element, 2);
  } else {
    head.writeUInt16BE(group, 0);
    head.writeUInt16BE(element, 2);
  }
  if (!explicit) {
    if (le) head.writeUInt32LE(length, 4);
    else head.writeUInt32BE(length, 4);
  } else if (LONG_LENGTH_VRS.has(e.vr)) {
    head.write(e.vr, 4, 'latin1');
    if (le) head.writeUInt32LE(length, 8);
    else head.writeUInt32BE(length, 8);
  } else {
    head.write(e.vr, 4, 'latin1');
    if (le) head.writeUInt16LE(length, 6);
    else head.writeUInt16BE(length, 6);
  }
  return Buffer.concat([head, e.value]);
}

/** Basic offset table (empty), one fragment, sequence delimiter: PS3.5 A.4. Always little endian. */
function encapsulated(fragment: Buffer): Buffer {
  const item = (tag: number, value: Buffer) => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0xfffe, 0);
    h.writeUInt16LE(tag, 2);
    h.writeUInt32LE(value.length, 4);
    return Buffer.concat([h, value]);
  };
  return Buffer.concat([item(0xe000, Buffer.alloc(0)), item(0xe000, pad(fragment, 0)), item(0xe0dd, Buffer.alloc(0))]);
}

function pixelBytes(values: ArrayLike<number>, bits: 8 | 16, little: boolean): Buffer {
  const out = Buffer.alloc(values.length * (bits / 8));
  for (let i = 0; i < values.length; i++) {
    // Masking writes negative values as two's complement of the allocated width.
    const v = values[i]! & (bits === 8 ? 0xff : 0xffff);
    if (bits === 8) out[i] = v;
    else if (little) out.writeUInt16LE(v, i * 2);
    else out.writeUInt16BE(v, i * 2);
  }
  return out;
}

function uint16(v: number, little: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (little) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

function uint32(v: number, little: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (little) b.writeUInt32LE(v);
  else b.writeUInt32BE(v);
  return b;
}

const uid = (s: string) => pad(Buffer.from(s, 'latin1'), 0);
const text = (s: string) => pad(Buffer.from(s, 'latin1'), 0x20);

function pad(b: Buffer, fill: number): Buffer {
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([fill])]);
}
