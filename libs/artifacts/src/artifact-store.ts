import { mkdir, readFile, rm, stat, writeFile, rename } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';

/**
 * Where checkpoints and models live. Keys are relative paths such as
 * `jobs/<id>/checkpoints/epoch-0003.ckpt`; an S3-like store can implement the same interface.
 */
export interface ArtifactStore {
  /** Location as recorded in the database (a path for the local store, a URI for others). */
  locate(key: string): string;
  /** The key of a location that `locate` returned (to delete what a database row points to). */
  keyOf(location: string): string;
  put(key: string, data: Uint8Array): Promise<{ location: string; size: number }>;
  get(key: string): Promise<Buffer>;
  /** Deletes a key or, for a prefix ending in `/`, everything under it. Missing keys are fine. */
  delete(key: string): Promise<void>;
  size(key: string): Promise<number>;
}

/** The default store: a folder on a local or shared file system (ARTIFACTS_DIR). */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  locate(key: string): string {
    const clean = normalize(key);
    if (isAbsolute(clean) || clean.startsWith('..') || clean.split(sep).includes('..')) {
      throw new Error(`artifact key "${key}" must be a relative path inside the store`);
    }
    return join(this.root, clean);
  }

  keyOf(location: string): string {
    const abs = resolve(location);
    if (!abs.startsWith(this.root + sep)) throw new Error(`${location} is not inside the artifact store ${this.root}`);
    return abs.slice(this.root.length + 1);
  }

  /** Writes to a temporary file and renames it, so a crash never leaves a half-written artifact. */
  async put(key: string, data: Uint8Array): Promise<{ location: string; size: number }> {
    const location = this.locate(key);
    await mkdir(dirname(location), { recursive: true });
    const tmp = `${location}.tmp-${process.pid}-${Date.now()}`;
    await writeFile(tmp, data);
    await rename(tmp, location);
    return { location, size: data.byteLength };
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.locate(key));
    } catch (err) {
      throw new Error(`artifact ${key} not found in ${this.root}: ${(err as Error).message}`, { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.locate(key), { recursive: true, force: true });
  }

  async size(key: string): Promise<number> {
    return (await stat(this.locate(key))).size;
  }
}
