#!/usr/bin/env node
// Cost of one KEDA poll of the scheduler's GET /metrics/queue: measureTrainingDemand (one Redis
// MULTI over the training queue's wait/prioritized/active keys + one Postgres query for the jobs'
// workers) with N queued jobs. Reference, measured in the same run: BullMQ's own
// getJobCounts('wait', 'prioritized', 'active'), the unweighted counts a plain redis trigger sees.
// Uses the local Postgres/Redis (DATABASE_URL/REDIS_URL or 127.0.0.1) with a throwaway database and prefix.
// Usage: npm run build && node bench/queue-metrics.mjs [--jobs 1000] [--runs 30]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../libs/persistence/dist/index.js';
import { createRedis, measureTrainingDemand, TrainingQueue, waitForRedis } from '../libs/queue/dist/index.js';
import { deleteRedisPrefix } from '../libs/testing/dist/index.js';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '1000' }, runs: { type: 'string', default: '30' } } });
const jobs = Number(values.jobs);
const runs = Number(values.runs);
const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dbName = `mf_bench_queue_${process.pid}`;
const prefix = `mf-bench-queue-${process.pid}`;
const dbUrl = new URL(postgresUrl);
dbUrl.pathname = `/${dbName}`;

const ds = await openDatabase({ url: dbUrl.toString(), migrate: true, poolSize: 2 });
const redis = createRedis(redisUrl, 'worker');
await waitForRedis(redis, redisUrl);
const queue = new TrainingQueue(redis, prefix);
try {
  const [{ id: datasetId }] = await ds.query(`INSERT INTO datasets (name, data_path, num_samples, num_classes, created_by) VALUES ('d', '/d', 10, 2, 'bench') RETURNING id`);
  const ids = await ds.query(
    `INSERT INTO training_jobs (name, model_config, data_config, training_config, dataset_id, status, total_epochs, owner)
     SELECT 'j' || g, '{}', $1, jsonb_build_object('epochs', 1, 'resources', jsonb_build_object('workers', 1 + g % 4)), $2, 'queued', 1, 'bench'
       FROM generate_series(1, $3) g RETURNING id`,
    [JSON.stringify({ datasetId }), datasetId, jobs],
  );
  for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map(({ id }) => queue.enqueue(id)));

  async function time(fn) {
    await fn();
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      await fn();
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)];
  }
  const demand = await measureTrainingDemand(queue, redis, ds);
  const weighted = await time(() => measureTrainingDemand(queue, redis, ds));
  const counts = await time(() => queue.queue.getJobCounts('wait', 'prioritized', 'active'));
  console.log(`queued jobs: ${jobs}, workersNeeded: ${demand.workersNeeded}`);
  console.log(`measureTrainingDemand: median ${weighted.toFixed(2)} ms over ${runs} runs`);
  console.log(`reference getJobCounts (unweighted): median ${counts.toFixed(2)} ms`);
  console.log(`ratio: ${(weighted / counts).toFixed(1)}x the reference`);
} finally {
  await queue.close();
  redis.disconnect();
  await ds.destroy();
  await deleteRedisPrefix(redisUrl, prefix);
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
