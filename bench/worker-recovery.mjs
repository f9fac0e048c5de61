#!/usr/bin/env node
// How long a SIGKILLed gpu-worker's job waits before it runs on another worker. A real stack
// (api-gateway, scheduler, two gpu-workers per run) on the local Postgres/Redis with a throwaway
// database and Redis prefix: a long job trains on one worker, that worker is SIGKILLed after its
// first checkpoint, and the time from the kill to the job's next `running` row on the other worker
// is measured (the database row is polled every 50 ms). Production timings (no env overrides):
// WORKER_HEARTBEAT_MS 2 s, WORKER_HEARTBEAT_TTL_MS 12 s, TRAINING_LOCK_DURATION_MS 60 s,
// TRAINING_STALLED_INTERVAL_MS 30 s.
// Reference, measured in the same run: the scheduler started with REQUEUE_ON_HEARTBEAT_LOSS=false,
// so only the queue lock's expiry and BullMQ's stalled check hand the job on (the path before issue #17).
// Usage: npm run build && node bench/worker-recovery.mjs [--runs 5] [--ref-runs 2]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { envForChild, freePort, isolatedResources, startAppProcess, startTrainingStack, waitFor, waitForHttpOk } from '../libs/testing/dist/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'ref-runs': { type: 'string', default: '2' } } });
const runs = Number(values.runs);
const refRuns = Number(values['ref-runs']);

const r = await isolatedResources();
const workDir = mkdtempSync(join(tmpdir(), 'mf-bench-recovery-'));
const procs = [];
let db;

async function startApp(app, healthVar, extra) {
  const port = await freePort();
  const proc = startAppProcess(app, envForChild(r, { [healthVar]: String(port), ARTIFACTS_DIR: join(workDir, 'artifacts'), LOG_LEVEL: 'warn', ...extra }));
  procs.push(proc);
  await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, proc, 60_000);
  return proc;
}

async function stopApp(proc, signal = 'SIGKILL') {
  if (proc.proc.exitCode === null && proc.proc.signalCode === null) proc.proc.kill(signal);
  await proc.exited;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const seconds = (ms) => (ms / 1000).toFixed(1);
const summary = (xs) => (xs.length ? `min ${seconds(Math.min(...xs))} s, median ${seconds(median(xs))} s, max ${seconds(Math.max(...xs))} s (${xs.length} runs)` : 'not measured');

/** One kill: returns ms from the SIGKILL to the job running on the other worker. */
async function measure(stack, label, run) {
  const ids = [`${label}-${run}-a`, `${label}-${run}-b`];
  const workers = new Map(
    await Promise.all(ids.map(async (id) => [id, await startApp('gpu-worker', 'GPU_WORKER_HEALTH_PORT', { WORKER_ID: id })])),
  );
  const res = await stack.api('POST', '/api/v1/training-jobs', {
    key: r.adminKey,
    body: {
      name: `recovery ${label} ${run}`,
      dataConfig: { datasetId: stack.datasetId },
      modelConfig: { imageSize: 32, convFilters: [4, 8], imageFeatureSize: 16, clinicalHiddenSize: 16, fusedSize: 16, dropout: 0 },
      trainingConfig: { epochs: 1000, batchSize: 8, learningRate: 0.01 },
    },
  });
  if (res.status !== 201) throw new Error(`submitting answered ${res.status}: ${JSON.stringify(res.body)}`);
  const jobId = res.body.id;
  const owner = await waitFor('the job running with a checkpoint', async () => {
    const { rows } = await db.query(
      `SELECT j.worker_id FROM training_jobs j WHERE j.id = $1 AND j.status = 'running' AND EXISTS (SELECT 1 FROM training_checkpoints c WHERE c.job_id = j.id)`,
      [jobId],
    );
    return rows[0]?.worker_id;
  }, 120_000, 50);
  const heir = ids.find((id) => id !== owner);
  await stopApp(workers.get(owner));
  const killedAt = Date.now();
  await waitFor(`the job running on ${heir}`, async () => {
    const { rows } = await db.query(`SELECT status, worker_id FROM training_jobs WHERE id = $1`, [jobId]);
    return rows[0]?.status === 'running' && rows[0].worker_id === heir;
  }, 300_000, 50);
  const ms = Date.now() - killedAt;
  console.log(`  ${label} run ${run + 1}: ${seconds(ms)} s from SIGKILL of ${owner} to running on ${heir}`);
  await stack.api('POST', `/api/v1/training-jobs/${jobId}/stop`, { key: r.adminKey });
  await stack.untilJobStatus(jobId, 'stopped', 60_000).catch((err) => console.warn(`  (could not stop job ${jobId}: ${err.message})`));
  await stopApp(workers.get(heir));
  return ms;
}

try {
  const stack = await startTrainingStack(r, { workDir, numCases: 300, seed: 3 });
  procs.push(stack.gateway);
  db = new pg.Client({ connectionString: r.databaseUrl });
  await db.connect();

  const heartbeat = [];
  let scheduler = await startApp('scheduler', 'SCHEDULER_HEALTH_PORT', {});
  console.log(`heartbeat requeue (scheduler default, REQUEUE_ON_HEARTBEAT_LOSS=true):`);
  for (let i = 0; i < runs; i++) heartbeat.push(await measure(stack, 'heartbeat', i));
  await stopApp(scheduler, 'SIGTERM');

  const lock = [];
  if (refRuns > 0) {
    scheduler = await startApp('scheduler', 'SCHEDULER_HEALTH_PORT', { REQUEUE_ON_HEARTBEAT_LOSS: 'false' });
    console.log(`reference, queue lock expiry only (REQUEUE_ON_HEARTBEAT_LOSS=false):`);
    for (let i = 0; i < refRuns; i++) lock.push(await measure(stack, 'lock', i));
    await stopApp(scheduler, 'SIGTERM');
  }
  stack.closeSockets();

  console.log(`\nkill -> running on the other worker`);
  console.log(`  heartbeat requeue: ${summary(heartbeat)}`);
  console.log(`  reference (lock expiry): ${summary(lock)}`);
  if (lock.length && heartbeat.length) console.log(`  median ratio: ${(median(heartbeat) / median(lock)).toFixed(2)}x the reference (${(median(lock) / median(heartbeat)).toFixed(1)}x faster)`);
} finally {
  for (const p of procs) p.kill();
  await db?.end();
  await r.cleanup();
  rmSync(workDir, { recursive: true, force: true });
}
