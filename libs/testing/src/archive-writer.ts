import { constants, crc32, createDeflateRaw, deflateRawSync, gzipSync } from 'node:zlib';
import { Header } from 'tar';

/**
 * Writes zip and tar archives for tests, byte by byte, so that tests can also build the hostile
 * ones real archivers refuse to make: `../` names, absolute paths, links, devices, duplicates.
 */
export interface ArchiveEntrySpec {
  name: string;
  /** File content (files only). */
  data?: Buffer | string;
  /** Default 'file'; a name ending in '/' is a folder either way. */
  type?: 'file' | 'directory' | 'symlink' | 'hardlink' | 'chardevice' | 'fifo';
  /** Target of a link. */
  linkpath?: string;
  /** Zip only: how the file's bytes are stored; default 'deflate'. */
  method?: 'deflate' | 'store';
  /** Zip only: the bytes already deflated (e.g. by deflatedZeros), with the CRC and size of what they inflate to. */
  deflated?: DeflatedBody;
  /** Zip only: the uncompressed size written in both headers instead of the true one (an archive that lies). */
  declaredSize?: number;
}

/** A deflated zip body and what it inflates to. */
export interface DeflatedBody {
  data: Buffer;
  crc: number;
  size: number;
}

/**
 * `size` zero bytes deflated, streamed in chunks so that a gigabyte-sized bomb never sits in memory
 * (deflate tops out near 1030:1, so 1 GiB of zeros is about 1 MB).
 */
export async function deflatedZeros(size: number): Promise<DeflatedBody> {
  const chunk = Buffer.alloc(Math.min(size, 1024 * 1024));
  const deflate = createDeflateRaw({ level: constants.Z_BEST_COMPRESSION });
  const out: Buffer[] = [];
  deflate.on('data', (b: Buffer) => out.push(b));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  let crc = 0;
  for (let left = size; left > 0; left -= chunk.length) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    crc = crc32(part, crc);
    if (!deflate.write(part)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return { data: Buffer.concat(out), crc, size };
}

const bytesOf = (e: ArchiveEntrySpec) => (typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0)));

/**
 * A zip made on Unix (the entry type lives in the upper 16 bits of the external attributes); files
 * are deflated unless their spec says `method: 'store'`, as `zip` does for files that do not shrink.
 */
export function writeZip(entries: ArchiveEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const raw = e.type === 'symlink' ? Buffer.from(e.linkpath ?? '') : bytesOf(e);
    const stored = e.method === 'store';
    const data = e.deflated?.data ?? (stored ? raw : deflateRawSync(raw));
    const mode = { file: 0o100644, directory: 0o040755, symlink: 0o120777, hardlink: 0o100644, chardevice: 0o020644, fifo: 0o010644 }[e.type ?? 'file'];
    const crc = e.deflated?.crc ?? crc32(raw);
    const size = e.declaredSize ?? e.deflated?.size ?? raw.length;
    const method = stored ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const TAR_TYPES = { file: 'File', directory: 'Directory', symlink: 'SymbolicLink', hardlink: 'Link', chardevice: 'CharacterDevice', fifo: 'FIFO' } as const;

/** A ustar archive (gzipped unless `gzip` is false); names are written as given, `../` included. */
export function writeTar(entries: ArchiveEntrySpec[], gzip = true): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.name.endsWith('/') ? 'directory' : (e.type ?? 'file');
    const data = type === 'file' ? bytesOf(e) : Buffer.alloc(0);
    const header = new Header({
      path: e.name,
      mode: type === 'directory' ? 0o755 : 0o644,
      size: data.length,
      mtime: new Date(0),
      type: TAR_TYPES[type],
      linkpath: e.linkpath ?? '',
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const tar = Buffer.concat(blocks);
  return gzip ? gzipSync(tar) : tar;
}
