import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
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
}

const bytesOf = (e: ArchiveEntrySpec) => (typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0)));

/** A zip with deflated files, made on Unix: the entry type lives in the upper 16 bits of the external attributes. */
export function writeZip(entries: ArchiveEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const raw = e.type === 'symlink' ? Buffer.from(e.linkpath ?? '') : bytesOf(e);
    const data = deflateRawSync(raw);
    const mode = { file: 0o100644, directory: 0o040755, symlink: 0o120777, hardlink: 0o100644, chardevice: 0o020644, fifo: 0o010644 }[e.type ?? 'file'];
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(raw.length, 24);
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
