import { generateSyntheticDataset } from '../data/synthetic-dataset.js';
import { GENERATE_SYNTHETIC_USAGE, parseGenerateSyntheticArgs, UsageError } from './generate-synthetic-args.js';

/**
 * `node libs/fusion/dist/cli/generate-synthetic.js --out <dir> [--cases 800] [--seed 7] [--size 64] [--views 1|2] [--masks]`
 * writes a synthetic data set and prints its stats as JSON on stdout (the body fields of
 * `POST /datasets`), so a script can pipe them on. Exit code 2 for a bad command line, 1 otherwise.
 */
async function main(): Promise<void> {
  const opts = parseGenerateSyntheticArgs(process.argv.slice(2));
  if ('help' in opts) {
    console.log(GENERATE_SYNTHETIC_USAGE);
    return;
  }
  const stats = await generateSyntheticDataset(opts);
  console.log(JSON.stringify(stats, null, 2));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
