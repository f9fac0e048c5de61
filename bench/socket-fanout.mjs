#!/usr/bin/env node
// Socket.IO fan-out latency: the built gateway (apps/api-gateway/dist/main.js, its own process)
// relays a job's training events from Redis to N subscribed clients. Events are published the way
// the worker does (TrainingEventPublisher on the Redis channel: `step` at 4/s and an `epoch` event
// every `--steps-per-epoch` steps) and latency runs from the publish (`publishedAt`, stamped by the
// publisher) to each client's handler. The clients live in child processes (bench/socket-fanout-child.mjs)
// so their parsing never shares this process's event loop with the publisher.
// Reference, same run, same clients and events: a bare Socket.IO server relaying the same Redis
// channel to the same room (no Nest, no key checks, no schema parsing), in its own process.
// Uses the local Postgres/Redis (DATABASE_URL/REDIS_URL or 127.0.0.1) with a throwaway database and prefix.
// Usage: npm run build && node bench/socket-fanout.mjs [--clients 500,1000] [--windows 4] [--window-seconds 5]
//          [--client-procs 2] [--transport websocket|polling-upgrade]
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { trainingEventsChannel } from '../libs/contracts/dist/index.js';
import { createRedis, TrainingEventPublisher, waitForRedis } from '../libs/queue/dist/index.js';
import { envForChild, freePort, isolatedResources, waitForHttpOk } from '../libs/testing/dist/index.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500,1000' },
    windows: { type: 'string', default: '4' },
    'window-seconds': { type: 'string', default: '5' },
    'steps-per-epoch': { type: 'string', default: '10' },
    // One process for all clients by default: on 2 cores that leaves the gateway a core of its own, as
    // real clients (each on its own machine) would; 2 makes three busy processes share the 2 cores.
    'client-procs': { type: 'string', default: '1' },
    transport: { type: 'string', default: 'websocket' },
    'skip-reference': { type: 'boolean', default: false },
    // The reference server in this many processes (Node cluster): what spreading the fan-out over cores gives.
    'reference-workers': { type: 'string', default: '1' },
    // Writes V8 CPU profiles of the gateway, the reference server and the client processes into this folder.
    'cpu-prof-dir': { type: 'string' },
  },
});
const clientCounts = values.clients.split(',').map(Number);
const windows = Number(values.windows);
const windowSeconds = Number(values['window-seconds']);
const stepsPerEpoch = Number(values['steps-per-epoch']);
const clientProcs = Number(values['client-procs']);
const transports = values.transport === 'websocket' ? ['websocket'] : ['polling', 'websocket'];
const STEP_INTERVAL_MS = 250; // the worker's cap: at most 4 step events a second
const CHILD = fileURLToPath(new URL('./socket-fanout-child.mjs', import.meta.url));
const GATEWAY_MAIN = fileURLToPath(new URL('../apps/api-gateway/dist/main.js', import.meta.url));

/** The built gateway as its own process (startAppProcess's shape, plus V8 flags for profiling). */
function startGateway(env, cpuProfDir) {
  const execArgv = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const proc = spawn(process.execPath, [...execArgv, GATEWAY_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
  return { proc, exited, output: () => out, kill: () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL') };
}

const resources = await isolatedResources({ LOG_LEVEL: 'warn' });
const port = await freePort();
const gateway = startGateway(envForChild(resources, { GATEWAY_PORT: String(port), LOG_LEVEL: 'warn' }), values['cpu-prof-dir']);
const gatewayUrl = `http://127.0.0.1:${port}`;
const redis = createRedis(resources.redisUrl, 'producer');
const children = new Set();

function forkChild(init) {
  const execArgv = values['cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`] : [];
  const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  children.add(child);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (process.env.FANOUT_DEBUG) console.error(`[bench] child ${child.pid} (${init.role}) exited with ${code ?? signal}`);
  });
  child.send(init);
  return child;
}

async function nextMessage(child, type) {
  for (;;) {
    const [msg] = await once(child, 'message');
    if (msg.type === 'error') throw new Error(`bench child failed: ${msg.error}`);
    if (msg.type === type) return msg;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Connects `n` clients to `url` (split over the client processes), publishes, and returns the per-window figures. */
async function measure(url, token, jobId, n) {
  const procs = Math.min(clientProcs, n);
  const kids = Array.from({ length: procs }, (_, i) => {
    const count = Math.floor(n / procs) + (i < n % procs ? 1 : 0);
    return forkChild({ role: 'clients', url, token, jobId, count, transports });
  });
  const ready = await Promise.all(kids.map((k) => nextMessage(k, 'ready')));
  const inUse = {};
  for (const r of ready) for (const [t, c] of Object.entries(r.transportsInUse)) inUse[t] = (inUse[t] ?? 0) + c;

  // Publish on a fixed schedule (drift-corrected), recording which window each event belongs to.
  const publisher = new TrainingEventPublisher(redis, resources.redisPrefix);
  const sentAt = new Map();
  const windowOf = new Map();
  const stepsPerWindow = (windowSeconds * 1000) / STEP_INTERVAL_MS;
  const totalSteps = windows * stepsPerWindow;
  const t0 = Date.now();
  for (let step = 1; step <= totalSteps; step++) {
    const due = t0 + step * STEP_INTERVAL_MS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const epoch = Math.ceil(step / stepsPerEpoch);
    const w = Math.floor((step - 1) / stepsPerWindow);
    const stepKey = `step:${epoch}:${step}`;
    windowOf.set(stepKey, w);
    sentAt.set(stepKey, Date.now());
    await publisher.publish({ type: 'step', jobId, epoch, step, stepsPerEpoch, loss: 0.5 + Math.random(), samplesPerSecond: 350 + Math.random() * 10, progress: step / totalSteps });
    if (step % stepsPerEpoch === 0) {
      const epochKey = `epoch:${epoch}`;
      windowOf.set(epochKey, w);
      sentAt.set(epochKey, Date.now());
      await publisher.publish({
        type: 'epoch',
        jobId,
        epoch,
        totalEpochs: totalSteps / stepsPerEpoch,
        metrics: { loss: 0.4, accuracy: 0.8, val_loss: 0.45, val_accuracy: 0.78, val_auc: 0.85, val_f1: 0.77 },
        learningRate: 0.001,
        samplesPerSecond: 351.2,
        etaSeconds: (totalSteps - step) / 4,
        progress: step / totalSteps,
      });
    }
  }
  await new Promise((r) => setTimeout(r, 2000)); // stragglers
  const reports = await Promise.all(
    kids.map(async (k) => {
      const p = nextMessage(k, 'arrivals');
      k.send({ type: 'collect' });
      return p;
    }),
  );
  await Promise.all(kids.map((k) => (k.exitCode === null ? once(k, 'exit') : null)));

  const perWindow = Array.from({ length: windows }, () => ({ latencies: [], delivered: 0, expected: 0 }));
  // Per event: when its first and its last client got it (publish -> gateway, then the fan-out's spread).
  const firstLast = new Map();
  let stamped = 0;
  for (const [key, w] of windowOf) perWindow[w].expected += n;
  for (const r of reports) {
    for (const [key, times] of Object.entries(r.arrivals)) {
      const w = windowOf.get(key);
      if (w === undefined) continue;
      const published = r.published[key];
      if (published !== undefined) stamped++;
      const from = published ?? sentAt.get(key);
      perWindow[w].delivered += times.length;
      const fl = firstLast.get(key) ?? [Infinity, -Infinity];
      for (const t of times) {
        perWindow[w].latencies.push(t - from);
        fl[0] = Math.min(fl[0], t - from);
        fl[1] = Math.max(fl[1], t - from);
      }
      firstLast.set(key, fl);
    }
  }
  const firsts = [...firstLast.values()].map(([f]) => f);
  const lasts = [...firstLast.values()].map(([, l]) => l);
  return {
    inUse,
    stamped: stamped > 0,
    firstMedian: median(firsts),
    lastMedian: median(lasts),
    windows: perWindow.map((w) => {
      const s = Float64Array.from(w.latencies).sort();
      return { delivered: w.delivered, expected: w.expected, p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN };
    }),
  };
}

function printRun(label, r) {
  const transportNote = Object.entries(r.inUse).map(([t, c]) => `${c} ${t}`).join(', ');
  console.log(`  ${label} (clients on ${transportNote}; latency from ${r.stamped ? 'the event\'s publishedAt' : 'the bench\'s publish time'})`);
  console.log(`    per event, median over events: first client ${r.firstMedian.toFixed(0)} ms, last client ${r.lastMedian.toFixed(0)} ms after the publish`);
  console.log('    window  delivered/expected   p50 ms   p95 ms   p99 ms   max ms');
  r.windows.forEach((w, i) =>
    console.log(
      `    ${String(i + 1).padStart(6)}  ${`${w.delivered}/${w.expected}`.padStart(18)}  ${w.p50.toFixed(0).padStart(7)}  ${w.p95.toFixed(0).padStart(7)}  ${w.p99.toFixed(0).padStart(7)}  ${w.max.toFixed(0).padStart(7)}`,
    ),
  );
}


try {
  await waitForRedis(redis, resources.redisUrl);
  await waitForHttpOk(`${gatewayUrl}/health/ready`, gateway, 60_000);
  const keyRes = await fetch(`${gatewayUrl}/api/v1/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${resources.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'fan-out bench', role: 'member', owner: 'bench' }),
  });
  if (keyRes.status !== 201) throw new Error(`could not create the bench's API key: ${keyRes.status} ${await keyRes.text()}`);
  const { key } = await keyRes.json();
  const db = new pg.Client({ connectionString: resources.databaseUrl });
  await db.connect();
  const {
    rows: [{ id: datasetId }],
  } = await db.query(`INSERT INTO datasets (name, data_path, num_samples, num_classes, created_by) VALUES ('d', '/d', 10, 2, 'bench') RETURNING id`);
  const {
    rows: [{ id: jobId }],
  } = await db.query(
    `INSERT INTO training_jobs (name, model_config, data_config, training_config, dataset_id, status, total_epochs, owner)
     VALUES ('fan-out', '{}', $1, '{"epochs": 1}', $2, 'running', 1, 'bench') RETURNING id`,
    [JSON.stringify({ datasetId }), datasetId],
  );
  await db.end();

  let raw;
  if (!values['skip-reference']) {
    raw = forkChild({ role: 'raw-server', redisUrl: resources.redisUrl, channel: trainingEventsChannel(resources.redisPrefix), options: { cors: { origin: true } }, workers: Number(values['reference-workers']) });
  }
  const rawPort = raw ? (await nextMessage(raw, 'listening')).port : undefined;

  console.log(`socket fan-out: step events every ${STEP_INTERVAL_MS} ms + an epoch event every ${stepsPerEpoch} steps, ${windows} windows of ${windowSeconds} s, clients in ${clientProcs} processes (${transports.join('+')})`);
  for (const n of clientCounts) {
    console.log(`\nN = ${n} clients subscribed to one job`);
    const g = await measure(gatewayUrl, key, jobId, n);
    printRun('gateway (Nest, Redis relay, key checks)', g);
    if (rawPort) {
      const r = await measure(`http://127.0.0.1:${rawPort}`, 'unused', jobId, n);
      printRun('reference: bare Socket.IO server relaying the same Redis channel', r);
      const gp99 = median(g.windows.map((w) => w.p99));
      const rp99 = median(r.windows.map((w) => w.p99));
      const gp50 = median(g.windows.map((w) => w.p50));
      const rp50 = median(r.windows.map((w) => w.p50));
      console.log(`  median over windows: gateway p50 ${gp50.toFixed(0)} / p99 ${gp99.toFixed(0)} ms; reference p50 ${rp50.toFixed(0)} / p99 ${rp99.toFixed(0)} ms; p99 ratio ${(gp99 / Math.max(rp99, 1)).toFixed(2)}x`);
    }
  }
  raw?.send({ type: 'stop' });
} finally {
  for (const c of children) c.kill('SIGKILL');
  redis.disconnect();
  gateway.proc.kill('SIGTERM');
  await Promise.race([gateway.exited, new Promise((r) => setTimeout(r, 5000))]);
  gateway.kill();
  await resources.cleanup();
}
