// Child processes of bench/socket-fanout.mjs, so that what they do never shares the measuring
// process's event loop:
// - `clients`: opens `count` Socket.IO clients, subscribes each to a training job, and records when
//   every `training-event` arrives (Date.now(), the same clock the publisher stamps `publishedAt`
//   with); the parent collects the arrival times at the end.
// - `raw-server`: the same-run reference, a bare Socket.IO server relaying the same Redis channel
//   to the same room (no Nest, no key checks, no schema parsing).
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import { io } from 'socket.io-client';
import { Server } from 'socket.io';
import { Redis } from 'ioredis';

const send = (msg) => process.send(msg);
const fail = (err) => {
  send({ type: 'error', error: String(err?.stack ?? err) });
  process.exit(1);
};

if (cluster.isWorker) {
  // One of the reference server's processes (--reference-workers > 1): the cluster shares the port.
  const init = JSON.parse(process.env.FANOUT_RAW_INIT);
  startRawServer(init, init.port).catch(fail);
} else {
  process.once('message', (init) => {
    (init.role === 'clients' ? runClients(init) : runRawServer(init)).catch(fail);
  });
}

/** Event identity shared with the parent: the same key on every client for one publish. */
function eventKey(e) {
  return e.type === 'step' ? `step:${e.epoch}:${e.step}` : `${e.type}:${e.epoch}`;
}

async function runClients({ url, token, jobId, count, transports, batch = 50 }) {
  // Arrival times per event key; one array entry per client that received it. The handler does as
  // little as possible: the clients' own parsing already competes with the gateway for 2 cores.
  const arrivals = new Map();
  const published = new Map();
  const sockets = [];
  const connectOne = () =>
    new Promise((resolve, reject) => {
      const s = io(url, { auth: { token }, transports, reconnection: false, forceNew: true });
      sockets.push(s);
      s.on('training-event', (e) => {
        const now = Date.now();
        const key = eventKey(e);
        let list = arrivals.get(key);
        if (!list) arrivals.set(key, (list = []));
        list.push(now);
        if (typeof e.publishedAt === 'number' && !published.has(key)) published.set(key, e.publishedAt);
      });
      s.once('connect_error', (err) => reject(new Error(`client could not connect to ${url}: ${err.message}`)));
      s.once('connect', () =>
        s.emit('subscribe', { jobId }, (ack) => (ack?.ok ? resolve() : reject(new Error(`subscribe refused: ${JSON.stringify(ack)}`)))),
      );
    });
  for (let i = 0; i < count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - i) }, connectOne));
    if (process.env.FANOUT_DEBUG) console.error(`[clients ${process.pid}] ${i + batch} connected`);
  }
  // Polling clients upgrade to websocket in the background; wait until they settled on their final transport.
  await new Promise((r) => setTimeout(r, transports.length > 1 ? 1500 : 100));
  const transportsInUse = {};
  for (const s of sockets) transportsInUse[s.io.engine.transport.name] = (transportsInUse[s.io.engine.transport.name] ?? 0) + 1;
  send({ type: 'ready', transportsInUse });
  process.on('message', (msg) => {
    if (msg.type !== 'collect') return;
    for (const s of sockets) s.close();
    // Exit only once the (large) report has left: process.exit would drop a send still buffered.
    process.send({ type: 'arrivals', arrivals: Object.fromEntries(arrivals), published: Object.fromEntries(published) }, (err) => (err ? fail(err) : process.exit(0)));
  });
}

async function startRawServer({ redisUrl, channel, options }, port) {
  const server = new Server(options);
  server.on('connection', (socket) => {
    socket.on('subscribe', ({ jobId }, ack) => {
      void socket.join(`job:${jobId}`);
      ack?.({ ok: true, room: `job:${jobId}` });
    });
  });
  const sub = new Redis(redisUrl);
  sub.on('message', (_ch, raw) => {
    const event = JSON.parse(raw);
    server.to(`job:${event.jobId}`).emit('training-event', event);
  });
  await sub.subscribe(channel);
  server.listen(port);
  return { server, sub };
}

async function runRawServer(init) {
  if (init.workers > 1) {
    // Node's cluster hands each new connection to one worker; every worker relays the channel to its own clients.
    const probe = createServer();
    await new Promise((r) => probe.listen(0, '127.0.0.1', r));
    const port = probe.address().port;
    await new Promise((r) => probe.close(r));
    cluster.setupPrimary({ exec: new URL(import.meta.url).pathname });
    const workers = Array.from({ length: init.workers }, () => cluster.fork({ FANOUT_RAW_INIT: JSON.stringify({ ...init, port }) }));
    await Promise.all(workers.map((w) => new Promise((r) => w.once('listening', r))));
    await new Promise((r) => setTimeout(r, 300)); // the workers' Redis subscriptions
    send({ type: 'listening', port });
    process.on('message', (msg) => {
      if (msg.type === 'stop') {
        for (const w of workers) w.kill();
        process.exit(0);
      }
    });
    return;
  }
  const { server, sub } = await startRawServer(init, 0);
  send({ type: 'listening', port: server.httpServer.address().port });
  process.on('message', (msg) => {
    if (msg.type === 'stop') {
      sub.disconnect();
      server.close(() => process.exit(0));
    }
  });
}
