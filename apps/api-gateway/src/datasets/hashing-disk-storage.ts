import type { Request } from 'express';
import type multer from 'multer';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What the upload's file part became on disk. */
export interface StoredUpload {
  path: string;
  size: number;
  /** SHA-256 of the bytes, hex: the archive's identity for Idempotency-Key. */
  sha256: string;
}

/**
 * multer's disk storage, plus a SHA-256 of the bytes computed while they stream to disk (so the
 * archive is read once, never held in memory). Files get random names in `dir`.
 */
export class HashingDiskStorage implements multer.StorageEngine {
  constructor(private readonly dir: string) {}

  _handleFile(_req: Request, file: Express.Multer.File, cb: (error?: unknown, info?: Partial<Express.Multer.File> & Partial<StoredUpload>) => void): void {
    const path = join(this.dir, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const digest = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    pipeline(file.stream, digest, createWriteStream(path, { flags: 'wx' })).then(
      () => cb(null, { path, size, sha256: hash.digest('hex') }),
      (err: unknown) => rm(path, { force: true }).then(() => cb(err), cb),
    );
  }

  _removeFile(_req: Request, file: Express.Multer.File, cb: (error: Error | null) => void): void {
    rm(file.path, { force: true }).then(() => cb(null), cb);
  }
}
