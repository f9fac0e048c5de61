import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { SOCKET_EVENTS, trainingEventSchema, type TrainingEvent } from '@medfusion/contracts';
import { generateSyntheticDataset, registrationOf } from '@medfusion/fusion';
import { ProgressBar } from './progress-bar.js';
import { startStack } from './stack.js';

/**
 * The platform's main job on one machine: start the stack, generate the synthetic multimodal data
 * set, submit a training job over REST, follow it live over Socket.IO, print the final metrics and
 * the model id, and stop the stack. `--workers N` starts N gpu-workers and trains the job on all of
 * them at once (data-parallel, gang-scheduled; docs/distributed.md).
 */
const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: '800' },
    epochs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '7' },
    port: { type: 'string', default: process.env['GATEWAY_PORT'] ?? '3000' },
    workers: { type: 'string', default: '1' },
  },
});
const workers = positiveInt('workers', args.workers);
const cases = positiveInt('cases', args.cases);
const epochs = positiveInt('epochs', args.epochs);
const seed = positiveInt('seed', args.seed);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const adminKey = process.env['BOOTSTRAP_ADMIN_KEY'] ?? 'dev-admin-key-change-me-0123456789abcdef';
const base = `http://127.0.0.1:${args.port}`;
const varDir = resolve(root, 'var');

// The synthetic data set goes to var/datasets: a data root whatever folder the quickstart runs from.
const dataRootsEnv = [process.env['DATA_ROOTS'], join(varDir, 'datasets')].filter(Boolean).join(',');
const stack = startStack(
  root,
  { ...process.env, BOOTSTRAP_ADMIN_KEY: adminKey, GATEWAY_PORT: args.port, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info', DATA_ROOTS: dataRootsEnv },
  join(varDir, 'logs'),
  { gpuWorkers: workers, cores: availableParallelism() },
);
process.on('SIGINT', () => void stack.stop().then(() => process.exit(130)));

try {
  const code = await Promise.race([run(), stack.crashed]);
  await stack.stop();
  process.exit(code);
} catch (err) {
  console.error(`\nquickstart failed: ${(err as Error).message}\nlogs: ${stack.logDir}`);
  await stack.stop();
  process.exit(1);
}

async function run(): Promise<number> {
  const t0 = Date.now();
  console.error(`starting the stack (logs in ${stack.logDir}) ...`);
  await waitForReady(`${base}/health/ready`, 60_000);

  const dataDir = join(varDir, 'datasets', `synthetic-${cases}-seed${seed}`);
  const stats = existsSync(join(dataDir, 'dataset.json'))
    ? (JSON.parse(readFileSync(join(dataDir, 'dataset.json'), 'utf8')) as { stats: Awaited<ReturnType<typeof generateSyntheticDataset>> }).stats
    : await generateSyntheticDataset({ outDir: dataDir, numCases: cases, seed });
  console.error(`synthetic data set: ${stats.numSamples} cases (${stats.trainSamples} train / ${stats.valSamples} val / ${stats.testSamples} test) in ${dataDir}`);

  const dataset = await post(
    '/api/v1/datasets',
    `quickstart-dataset-${hash(dataDir)}`,
    registrationOf(stats, dataDir, `synthetic-${cases}-seed${seed}`, { tags: ['synthetic', 'quickstart'] }),
  );
  const job = await post('/api/v1/training-jobs', undefined, {
    name: 'quickstart: small CNN + clinical MLP, concatenation',
    dataConfig: { datasetId: dataset.id },
    modelConfig: { backbone: 'small_cnn', fusion: 'concatenate', numClasses: 2, imageSize: stats.imageSize },
    trainingConfig: { epochs, batchSize: 32, learningRate: 0.01, seed, monitorMetric: 'val_auc', monitorMode: 'max', resources: { workers } },
  });
  console.error(`training job ${job.id} submitted${workers > 1 ? ` to ${workers} workers (one rank each)` : ''}`);

  const final = await follow(job.id as string);
  const jobRow = await get(`/api/v1/training-jobs/${job.id}`);
  console.log('\nfinal metrics:');
  for (const [k, v] of Object.entries((final.metrics ?? {}) as Record<string, number>)) console.log(`  ${k.padEnd(24)} ${v.toFixed(4)}`);
  console.log(`backend: ${jobRow.backend}   epochs: ${jobRow.currentEpoch}   wall time: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const r of (jobRow.ranks ?? []) as Array<{ rank: number; workerId: string; host: string; port: number | null; samplesPerSecond: number | null }>) {
    console.log(`rank ${r.rank}: ${r.workerId} at ${r.host}:${r.port}, ${(r.samplesPerSecond ?? 0).toFixed(0)} samples/s in the last epoch`);
  }
  console.log(`model id: ${final.modelId}`);
  return final.status === 'completed' ? 0 : 1;
}

/** Streams the job's events until it reaches a final state; prints a live progress bar. */
function follow(jobId: string): Promise<Extract<TrainingEvent, { type: 'status' }>> {
  const bar = new ProgressBar();
  const socket = io(base, { auth: { token: adminKey }, transports: ['websocket'] });
  return new Promise((resolvePromise, reject) => {
    socket.on('connect_error', (err) => reject(new Error(`Socket.IO: ${err.message}`)));
    socket.on('connect', () => {
      socket.emit(SOCKET_EVENTS.subscribe, { jobId }, (ack: { ok: boolean; error?: string }) => {
        if (!ack.ok) reject(new Error(`cannot follow job ${jobId}: ${ack.error}`));
      });
    });
    socket.on(SOCKET_EVENTS.training, (raw: unknown) => {
      const e = trainingEventSchema.parse(raw);
      bar.update(e);
      if (e.type === 'status' && ['completed', 'failed', 'stopped', 'paused'].includes(e.status)) {
        bar.done();
        socket.close();
        if (e.status === 'completed') resolvePromise(e);
        else reject(new Error(`job ${jobId} ended ${e.status}${e.error ? `: ${e.error}` : ''}`));
      }
    });
  });
}

async function post(path: string, idempotencyKey: string | undefined, body: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', ...(idempotencyKey && { 'idempotency-key': idempotencyKey }) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, any>;
  if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${json['message']}`);
  return json;
}

async function get(path: string): Promise<Record<string, any>> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${adminKey}` } });
  return (await res.json()) as Record<string, any>;
}

async function waitForReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await fetch(url).catch(() => null))?.ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway was not ready at ${url} within ${timeoutMs / 1000} s`);
}

function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}
