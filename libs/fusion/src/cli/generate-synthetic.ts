import { parseArgs } from 'node:util';
import { generateSyntheticDataset } from '../data/synthetic-dataset.js';

/** `node libs/fusion/dist/cli/generate-synthetic.js --out <dir> [--cases 800] [--seed 7] [--size 64]`: prints the stats as JSON. */
const { values } = parseArgs({
  options: { out: { type: 'string' }, cases: { type: 'string', default: '800' }, seed: { type: 'string', default: '7' }, size: { type: 'string', default: '64' } },
});
if (!values.out) {
  console.error('usage: generate-synthetic --out <dir> [--cases 800] [--seed 7] [--size 64]');
  process.exit(2);
}
generateSyntheticDataset({ outDir: values.out, numCases: Number(values.cases), seed: Number(values.seed), imageSize: Number(values.size) }).then(
  (stats) => console.log(JSON.stringify(stats, null, 2)),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
