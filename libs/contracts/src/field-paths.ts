/**
 * Dotted field paths that users give (a sweep parameter `trainingConfig.learningRate`, and later a
 * workflow override or a CLI `--set`) and the one safe way to write a value at one.
 *
 * A naive writer walks `target[segment]` and creates what is missing, so a segment `__proto__`
 * lands on `Object.prototype` and `constructor.prototype` on a shared prototype: one rejected
 * request then changes every object in the process (issue #17: every later request of every key
 * answered 500). Such segments are refused, reads go through own properties only, and writes
 * define properties instead of assigning them, so no setter on the way can run.
 */

/** Segments that name an object's prototype machinery rather than a field. */
export const FORBIDDEN_PATH_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

export class FieldPathError extends Error {
  constructor(
    /** The path as the user wrote it. */
    readonly path: string,
    /** What is wrong with it, without the path. */
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'FieldPathError';
  }
}

/** Why `path` cannot address a field (empty or prototype-reaching segments), or null when it can. */
export function fieldPathIssue(path: string): string | null {
  const segments = path.split('.');
  if (segments.some((s) => s === '')) return 'has an empty segment (a dotted path such as trainingConfig.learningRate)';
  const bad = segments.find((s) => FORBIDDEN_PATH_SEGMENTS.has(s));
  return bad === undefined ? null : `segment "${bad}" is not allowed (${[...FORBIDDEN_PATH_SEGMENTS].join(', ')} reach object prototypes, not fields)`;
}

/** Whether `key` is an own, enumerable data field of `node` (never an inherited member such as `toString`). */
function ownValue(node: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(node, key) ? node[key] : undefined;
}

function define(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * Writes `value` at the dotted `path` inside `target`, creating missing objects on the way.
 * Throws FieldPathError naming the path when a segment is forbidden or when the path runs through
 * something that is not a plain object (an array, a number, a string).
 */
export function setAtPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const issue = fieldPathIssue(path);
  if (issue) throw new FieldPathError(path, issue);
  const keys = path.split('.');
  let node = target;
  for (let i = 0; i < keys.length - 1; i++) {
    const key = keys[i]!;
    const next = ownValue(node, key);
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      define(node, key, created);
      node = created;
      continue;
    }
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new FieldPathError(path, `${keys.slice(0, i + 1).join('.')} is not an object, so it has no field "${keys[i + 1]}"`);
    }
    node = next as Record<string, unknown>;
  }
  define(node, keys.at(-1)!, value);
}
