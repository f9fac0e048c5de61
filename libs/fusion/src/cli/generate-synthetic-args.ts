import { parseArgs } from 'node:util';
import type { SyntheticDatasetOptions } from '../data/synthetic-dataset.js';

export const GENERATE_SYNTHETIC_USAGE =
  'usage: generate-synthetic --out <dir> [--cases 800] [--seed 7] [--size 64] [--views 1|2] [--masks]\n' +
  '  writes <dir>/clinical.csv, <dir>/images/*.png and <dir>/dataset.json; prints the stats as JSON\n' +
  '  --views 2 adds a second view per case (column view_2), --masks lesion masks (column mask, masks/*.png)';

/** A bad command line; the message says which option and what it accepts. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `{ help: true }` for --help, else the generator's options, validated. */
export function parseGenerateSyntheticArgs(argv: string[]): SyntheticDatasetOptions | { help: true } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        cases: { type: 'string', default: '800' },
        seed: { type: 'string', default: '7' },
        size: { type: 'string', default: '64' },
        views: { type: 'string', default: '1' },
        masks: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    // parseArgs says what is wrong ("Unknown option '--case'"), not what is right.
    throw new UsageError(`${(err as Error).message}\n${GENERATE_SYNTHETIC_USAGE}`);
  }
  if (values['help']) return { help: true };
  const out = values['out'];
  if (typeof out !== 'string' || out.trim() === '') throw new UsageError(`--out <dir> is required\n${GENERATE_SYNTHETIC_USAGE}`);
  return {
    outDir: out,
    numCases: integerOption('cases', values['cases'], 10, 1_000_000),
    seed: integerOption('seed', values['seed'], 0, 0xffffffff),
    imageSize: integerOption('size', values['size'], 16, 1024),
    ...(integerOption('views', values['views'], 1, 2) === 2 ? { views: 2 as const } : {}),
    ...(values['masks'] ? { masks: true } : {}),
  };
}

function integerOption(name: string, raw: unknown, min: number, max: number): number {
  const text = String(raw);
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}
