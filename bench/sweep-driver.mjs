#!/usr/bin/env node
// How long one sweep-driver pass takes against real Postgres and Redis as a sweep grows: a sweep
// with N finished trials (5 epochs of intermediate values each) and `parallelism` running ones.
// - idle pass: nothing changed (the periodic safety net's cost per sweep);
// - turnover pass: one running trial's job completed, so the pass completes it, asks TPE for the
//   next trial over all N, and inserts the trial with its training job (what each epoch/status
//   event costs at most).
// The reference is TPE's proposal alone on the same trials (pure computation), so the ratio is
// what the database work adds.
// Usage: npm run build && node bench/sweep-driver.mjs [--sizes 10,100,500] [--repeats 5]
import { parseArgs } from 'node:util';
import { createSweepSchema } from '../libs/contracts/dist/index.js';
import { openDatabase, SweepRepository, TrainingJobRepository } from '../libs/persistence/dist/index.js';
import { createRedis, TrainingControlRequester, TrainingQueue, waitForRedis } from '../libs/queue/dist/index.js';
import { createLogger } from '../libs/runtime/dist/index.js';
import { SweepDriver, toTuningTrials } from '../libs/sweeps/dist/index.js';
import { isolatedResources } from '../libs/testing/dist/index.js';
import { createTpeSampler } from '../libs/tuning/dist/index.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10,100,500' }, repeats: { type: 'string', default: '5' } } });
const sizes = values.sizes.split(',').map(Number);
const repeats = Number(values.repeats);
const PARALLELISM = 4;

const r = await isolatedResources();
const ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 4 });
const redis = createRedis(r.redisUrl, 'producer');
await waitForRedis(redis, r.redisUrl);
const queue = new TrainingQueue(redis, r.redisPrefix);
const logger = createLogger('bench', 'silent');
const sweeps = new SweepRepository(ds);
const driver = new SweepDriver({
  sweeps,
  queue,
  controls: new TrainingControlRequester(new TrainingJobRepository(ds), queue, redis, r.redisPrefix, logger),
  events: { publish: async () => undefined },
  logger,
});
const [{ id: datasetId }] = await ds.query(`INSERT INTO datasets (name, data_path, num_samples, num_classes, created_by) VALUES ('d', '/d', 10, 2, 'bench') RETURNING id`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

console.log(`sweep-driver pass time (median of ${repeats}), TPE, parallelism ${PARALLELISM}, Postgres + Redis on this machine\n`);
console.log('finished trials   idle pass ms   turnover pass ms   TPE propose ms   turnover / propose');
try {
  for (const n of sizes) {
    const config = createSweepSchema.parse({
      name: `bench ${n}`,
      searchSpace: {
        'trainingConfig.learningRate': { type: 'float', low: 1e-5, high: 0.1, log: true },
        'modelConfig.dropout': { type: 'float', low: 0, high: 0.5 },
        'modelConfig.fusion': { type: 'categorical', choices: ['concatenate', 'gated', 'attention', 'late'] },
      },
      objectives: [{ metric: 'val_loss', direction: 'minimize' }],
      sampler: { type: 'tpe' },
      pruner: { type: 'median' },
      budget: { maxTrials: n + PARALLELISM + repeats + 10 },
      parallelism: PARALLELISM,
      baseTrainingJob: { dataConfig: { datasetId }, trainingConfig: { epochs: 5 } },
    });
    const sweep = await sweeps.create(config, 'bench');
    // N finished trials written directly, as if the sweep had run them.
    const rows = Array.from({ length: n }, (_, i) => {
      const lr = 10 ** (-5 + 4 * ((i * 0.618) % 1));
      const curve = Object.fromEntries([1, 2, 3, 4, 5].map((e) => [String(e), Math.abs(Math.log10(lr) + 2.5) / 3 + 0.3 / e]));
      return [sweep.id, i, 'complete', JSON.stringify({ 'trainingConfig.learningRate': lr, 'modelConfig.dropout': (i % 5) / 10, 'modelConfig.fusion': ['concatenate', 'gated', 'attention', 'late'][i % 4] }), JSON.stringify(curve), JSON.stringify([curve['5']])];
    });
    for (const row of rows) {
      await ds.query(`INSERT INTO trials (sweep_id, number, state, params, intermediate_values, values) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb)`, row);
    }
    await driver.drive(sweep.id); // starts `parallelism` trials

    const idle = [];
    const turnover = [];
    const propose = [];
    for (let k = 0; k < repeats; k++) {
      idle.push(await timed(() => driver.drive(sweep.id)));
      const running = (await sweeps.allTrials(sweep.id)).filter((t) => t.state === 'running');
      const history = [1, 2, 3, 4, 5].map((epoch) => ({ epoch, metrics: { val_loss: 0.5 / epoch } }));
      await ds.query(`UPDATE training_jobs SET status = 'completed', history = $2::jsonb, current_metrics = '{"val_loss": 0.1}' WHERE id = $1`, [running[0].trainingJobId, JSON.stringify(history)]);
      turnover.push(await timed(() => driver.drive(sweep.id)));
      const trials = toTuningTrials(await sweeps.allTrials(sweep.id));
      const sampler = createTpeSampler();
      const next = trials.length;
      propose.push(await timed(async () => sampler.propose({ space: config.searchSpace, trials, trialNumber: next, seed: 0, directions: ['minimize'] })));
    }
    const [i, t, p] = [median(idle), median(turnover), median(propose)];
    console.log(`${String(n).padStart(15)}   ${i.toFixed(1).padStart(12)}   ${t.toFixed(1).padStart(16)}   ${p.toFixed(1).padStart(14)}   ${(t / p).toFixed(1).padStart(18)}`);
  }
} finally {
  await queue.close();
  redis.disconnect();
  await ds.destroy();
  await r.cleanup();
}
