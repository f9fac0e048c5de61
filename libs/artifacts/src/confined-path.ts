import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';

/**
 * Why a user-given path was refused. `field` names the request field it came from (e.g.
 * `body.dataPath`), so the gateway can answer 422 naming it and the worker can fail the job with
 * a message the user can act on.
 */
export class PathNotAllowedError extends Error {
  readonly code = 'PATH_NOT_ALLOWED';
  /** `detail`: what is wrong, without the field (the message is `<field> <detail>`). */
  constructor(
    readonly field: string,
    readonly reason: 'not-a-path' | 'outside-roots' | 'missing' | 'unreadable' | 'link-outside',
    readonly detail: string,
  ) {
    super(`${field} ${detail}`);
    this.name = 'PathNotAllowedError';
  }
}

/** True when `child` is `parent` or lies below it (both absolute and normalised). */
export function isInsideFolder(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** A URL (`file://`, `s3://`, `http:`...) rather than a path: a scheme of two or more letters and a colon. */
const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]+:/;

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const real = await Promise.all(roots.map((r) => realpath(resolve(r)).catch(() => null)));
  return real.filter((r): r is string => r !== null);
}

/**
 * The real path (symbolic links resolved) of a user-given file or folder, which must lie under one
 * of `roots`. Relative paths are resolved against the working directory. Refused with a
 * PathNotAllowedError naming `field`: URLs, NUL bytes, anything outside the roots (`/etc`,
 * `/proc/self/environ`, `../..`), a path that does not exist, and a link inside a root that leads
 * out. The file system is only consulted for paths that are already inside a root by name, so the
 * answer never says whether something outside the roots exists.
 *
 * Call it where the path is accepted (gateway) and again where it is opened (worker): a link can be
 * changed after registration. The returned real path is what should be opened.
 */
export async function confinePath(input: string, roots: readonly string[], field: string): Promise<string> {
  return (await pathConfiner(roots))(input, field);
}

/**
 * confinePath with the roots' real paths found once: for checking many files in a row (every
 * image of a data set), when the roots themselves do not change meanwhile.
 */
export async function pathConfiner(roots: readonly string[]): Promise<(input: string, field: string) => Promise<string>> {
  const named = roots.map((r) => resolve(r));
  const real = await realRoots(roots);
  return (input, field) => confineTo(input, field, roots, named, real);
}

async function confineTo(input: string, field: string, roots: readonly string[], named: string[], real: string[]): Promise<string> {
  const where = roots.length ? `under ${roots.join(', ')}` : 'anywhere (no roots are configured)';
  if (input.includes('\0') || URL_LIKE.test(input)) {
    throw new PathNotAllowedError(field, 'not-a-path', `must be a file system path ${where}, not a URL`);
  }
  const abs = resolve(input);
  if (![...named, ...real].some((r) => isInsideFolder(abs, r))) {
    throw new PathNotAllowedError(field, 'outside-roots', `"${input}" is outside the data roots; it must lie ${where} (DATA_ROOTS)`);
  }
  let target: string;
  try {
    target = await realpath(abs);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR';
    throw new PathNotAllowedError(
      field,
      missing ? 'missing' : 'unreadable',
      missing ? `"${input}" does not exist` : `"${input}" cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (!real.some((r) => isInsideFolder(target, r))) {
    throw new PathNotAllowedError(field, 'link-outside', `"${input}" leads outside the data roots through a symbolic link; it must lie ${where}`);
  }
  return target;
}
