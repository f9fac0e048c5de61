#!/usr/bin/env node
// Ring all-reduce over gRPC (libs/collective) against a raw TCP transfer of the same bytes, on
// loopback, every rank and both TCP ends in their own process (one process per rank, as on a
// cluster). Bus bandwidth = 2(N-1)/N x bytes / seconds: the bytes each rank sends and receives,
// comparable with a single link's throughput. Each figure is the median over the iterations.
// A second reference, grpc_pair: two processes streaming the same bytes to each other at once over
// grpc-js with the library's settings and no reduction: the traffic of an N=2 ring, so the ceiling
// of any ring built on grpc-js here. A third, tcp_duplex: the same two-way traffic on plain
// sockets (each process sends the bytes to the other while it receives theirs into one reused
// buffer; the receivers only count): the transport's ceiling for a 2-rank ring here, where both
// directions share the same two cores.
// cpu_ms: CPU time (user + system) per rank per all-reduce,
// which says more than wall time on a machine shared with other work.
// Both transports of the library are measured: `socket` (the default data plane: plain TCP between
// neighbours) and `grpc` (a server-streaming Pull per call).
// Usage: npm run build && node bench/allreduce.mjs [--ranks 2,3,4] [--sizes 1,4,16,64] [--bucket-mb 4] [--iters 5] [--transports socket,grpc]
import { fork } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';

const MiB = 1 << 20;
const self = new URL(import.meta.url).pathname;
const role = process.argv[2];

if (role === 'rank') await runRank();
else if (role === 'tcp-receiver') await runTcpReceiver();
else if (role === 'tcp-sender') await runTcpSender();
else if (role === 'grpc-pair') await runGrpcPair();
else if (role === 'tcp-duplex') await runTcpDuplex();
else await main();

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function iterationsFor(sizeMb, iters) {
  return sizeMb >= 64 ? Math.max(2, Math.ceil(iters / 2)) : sizeMb >= 16 ? iters : iters * 3;
}

function next(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.type === type) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m);
      } else if (m.type === 'error') reject(new Error(m.message));
    };
    const onExit = (code) => reject(new Error(`child exited with ${code} while waiting for ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      ranks: { type: 'string', default: '2,3,4' },
      sizes: { type: 'string', default: '1,4,16,64' },
      'bucket-mb': { type: 'string', default: '4' },
      iters: { type: 'string', default: '5' },
      transports: { type: 'string', default: 'socket,grpc' },
    },
  });
  const ranks = values.ranks.split(',').map(Number);
  const sizes = values.sizes.split(',').map(Number);
  const bucketBytes = Math.round(Number(values['bucket-mb']) * MiB);
  const iters = Number(values.iters);
  const transports = values.transports.split(',');
  console.log(`ring all-reduce (libs/collective, transports ${transports.join(' and ')}) vs raw TCP, 127.0.0.1, ${availableParallelism()} cores, bucket ${bucketBytes / MiB} MiB, median of ${iters * 3}/${iters}/${Math.max(2, Math.ceil(iters / 2))} iterations (<16/16/64 MB)`);
  if (Math.max(...ranks) > availableParallelism()) console.log(`note: ${Math.max(...ranks)} rank processes share ${availableParallelism()} cores: N > cores is CPU-bound, not network-bound`);
  console.log('N  transport  size_MB  allreduce_ms  cpu_ms/rank  busbw_MiB/s  tcp_MiB/s  ratio  grpc_pair_MiB/s  tcp_duplex_MiB/s  duplex/tcp  busbw/duplex');
  for (const N of ranks) {
    const tcp = await measureTcp(sizes, iters);
    const pair = await measurePair('grpc-pair', sizes, iters, { bucketBytes });
    const duplex = await measurePair('tcp-duplex', sizes, iters);
    for (const transport of transports) {
    const ar = await measureAllReduce(N, sizes, iters, bucketBytes, transport);
    for (const size of sizes) {
      const { seconds, cpuMs } = ar.get(size);
      const busbw = ((2 * (N - 1)) / N) * (size * MiB) / seconds / MiB;
      const tcpRate = (size * MiB) / tcp.get(size) / MiB;
      const pairRate = (size * MiB) / pair.get(size) / MiB;
      const duplexRate = (size * MiB) / duplex.get(size) / MiB;
      console.log(
        `${String(N).padEnd(2)} ${transport.padEnd(9)}  ${String(size).padStart(7)}  ${(seconds * 1000).toFixed(1).padStart(12)}  ${cpuMs.toFixed(0).padStart(11)}  ${busbw.toFixed(0).padStart(11)}  ${tcpRate.toFixed(0).padStart(9)}  ${(busbw / tcpRate).toFixed(2).padStart(5)}  ${pairRate.toFixed(0).padStart(15)}  ${duplexRate.toFixed(0).padStart(16)}  ${(duplexRate / tcpRate).toFixed(2).padStart(10)}  ${(busbw / duplexRate).toFixed(2).padStart(12)}`,
      );
    }
    }
  }
}

async function measureTcp(sizes, iters) {
  const receiver = fork(self, ['tcp-receiver']);
  const { port } = await next(receiver, 'ready');
  const sender = fork(self, ['tcp-sender']);
  sender.send({ port, sizes, iters });
  const { seconds } = await next(sender, 'done');
  sender.kill();
  receiver.kill();
  return new Map(sizes.map((s, i) => [s, seconds[i]]));
}

async function measureAllReduce(N, sizes, iters, bucketBytes, transport) {
  const children = Array.from({ length: N }, () => fork(self, ['rank']));
  try {
    const ports = await Promise.all(children.map((c) => next(c, 'ready').then((m) => m.port)));
    const peers = ports.map((port) => ({ host: '127.0.0.1', port }));
    const done = children.map((c) => next(c, 'done'));
    children.forEach((c, rank) => c.send({ rank, worldSize: N, peers, sizes, iters, bucketBytes, transport }));
    const results = await Promise.all(done);
    // Each iteration starts after a barrier; it lasts until the slowest rank has its result.
    return new Map(
      sizes.map((s, i) => [
        s,
        { seconds: median(results[0].seconds[i].map((_, k) => Math.max(...results.map((r) => r.seconds[i][k])))), cpuMs: median(results.map((r) => median(r.cpuMs[i]))) },
      ]),
    );
  } finally {
    for (const c of children) c.kill();
  }
}

async function runRank() {
  const { CollectiveGroup, RankServer } = await import('../libs/collective/dist/index.js');
  const server = await RankServer.listen({ host: '127.0.0.1', port: 0 });
  process.send({ type: 'ready', port: server.port });
  const config = await new Promise((r) => process.once('message', r));
  try {
    const group = await CollectiveGroup.join({ jobId: 'bench', token: 'bench-token-0123456789', rank: config.rank, worldSize: config.worldSize, peers: config.peers, server, bucketBytes: config.bucketBytes, deadlineMs: 300_000, transport: config.transport });
    const seconds = [];
    const cpuMs = [];
    for (const sizeMb of config.sizes) {
      const buf = new Float32Array((sizeMb * MiB) / 4).fill(config.rank + 1);
      await group.allReduceMean(buf); // warm-up: connections, JIT, allocation
      const expected = (config.worldSize + 1) / 2;
      const times = [];
      const cpu = [];
      for (let k = 0; k < iterationsFor(sizeMb, config.iters); k++) {
        await group.barrier();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await group.allReduceMean(buf);
        times.push((performance.now() - t0) / 1000);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      }
      if (buf[0] !== expected || buf[buf.length - 1] !== expected) throw new Error(`rank ${config.rank}: wrong result ${buf[0]}, expected ${expected}`);
      seconds.push(times);
      cpuMs.push(cpu);
    }
    await group.close();
    process.send({ type: 'done', seconds, cpuMs });
  } catch (error) {
    process.send({ type: 'error', message: error.message });
  }
}

async function runTcpReceiver() {
  const srv = createServer((sock) => {
    let expected = 0;
    let got = 0;
    sock.on('data', (d) => {
      if (expected === 0) {
        expected = d.readUInt32LE(0);
        got = d.length - 4;
      } else got += d.length;
      if (got >= expected) {
        sock.write('k');
        expected = 0;
      }
    });
  });
  srv.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: srv.address().port }));
}

async function runTcpSender() {
  const { port, sizes, iters } = await new Promise((r) => process.once('message', r));
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const transfer = (payload) => {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(payload.length);
    sock.write(header);
    sock.write(payload);
    return new Promise((r) => sock.once('data', r));
  };
  const seconds = [];
  for (const sizeMb of sizes) {
    const data = new Float32Array((sizeMb * MiB) / 4).fill(1);
    const payload = Buffer.from(data.buffer);
    await transfer(payload);
    const times = [];
    for (let k = 0; k < iterationsFor(sizeMb, iters); k++) {
      const t0 = performance.now();
      await transfer(payload);
      times.push((performance.now() - t0) / 1000);
    }
    seconds.push(median(times));
  }
  sock.destroy();
  process.send({ type: 'done', seconds });
}

/**
 * Runs one of the two-process references (`grpc-pair`, `tcp-duplex`): both children learn each
 * other's port and say `configured`, then for each size the parent says go to both at once (so the
 * two directions overlap as in a ring) and takes the slower side's `exchanged` time; median per size.
 */
async function measurePair(role, sizes, iters, config = {}) {
  const peers = [0, 1].map(() => fork(self, [role]));
  try {
    const ports = await Promise.all(peers.map((p) => next(p, 'ready').then((m) => m.port)));
    const configured = peers.map((p) => next(p, 'configured'));
    peers.forEach((p, i) => p.send({ other: ports[1 - i], sizes, ...config }));
    await Promise.all(configured);
    const seconds = new Map();
    for (const sizeMb of sizes) {
      const times = [];
      for (let k = -1; k < iterationsFor(sizeMb, iters); k++) {
        const done = peers.map((p) => next(p, 'exchanged'));
        peers.forEach((p) => p.send({ sizeMb }));
        const t = Math.max(...(await Promise.all(done)).map((m) => m.seconds));
        if (k >= 0) times.push(t);
      }
      seconds.set(sizeMb, median(times));
    }
    return seconds;
  } finally {
    for (const p of peers) p.kill();
  }
}

// Each side serves a stream of the requested size (in bucket-sized messages) and pulls the other's at the same time.
async function runGrpcPair() {
  const grpc = await import('@grpc/grpc-js');
  const ident = (b) => b;
  const method = { path: '/bench.Pair/Pull', requestStream: false, responseStream: true, requestSerialize: ident, requestDeserialize: ident, responseSerialize: ident, responseDeserialize: ident };
  let bucket = 0;
  const sources = new Map();
  const server = new grpc.Server({ 'grpc.max_send_message_length': -1 });
  server.addService({ Pull: method }, {
    Pull: (call) => {
      const src = sources.get(call.request.readUInt32LE(0));
      let off = 0;
      const pump = () => {
        while (off < src.length) {
          const ok = call.write(src.subarray(off, off + bucket));
          off += bucket;
          if (!ok) return call.once('drain', pump);
        }
        call.end();
      };
      pump();
    },
  });
  const port = await new Promise((r) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => r(p)));
  process.send({ type: 'ready', port });
  let client;
  // One listener from the start: the first message configures, the next ones are transfers (a
  // listener added after an await could miss a message delivered in the same tick).
  process.on('message', async (m) => {
    if (!client) {
      bucket = m.bucketBytes;
      for (const sizeMb of m.sizes) sources.set(sizeMb, Buffer.alloc(sizeMb * MiB, 1));
      client = new grpc.Client(`127.0.0.1:${m.other}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': 64 * MiB });
      process.send({ type: 'configured' });
      return;
    }
    const request = Buffer.alloc(4);
    request.writeUInt32LE(m.sizeMb);
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
      const call = client.makeServerStreamRequest(method.path, ident, ident, request, new grpc.Metadata());
      call.on('data', () => {});
      call.on('end', resolve);
      call.on('error', reject);
    });
    process.send({ type: 'exchanged', seconds: (performance.now() - t0) / 1000 });
  });
}

// Sends sizeMb to the other process while receiving the other's: the receiving side connects and
// reads with `onread` into one reused buffer (no allocation per read, as the library's data plane
// does), the sending side writes on the accepted connection. Receivers only count the bytes.
async function runTcpDuplex() {
  const sink = new Uint8Array(4 * MiB);
  let expected = 0;
  let got = 0;
  let onComplete = () => {};
  let out;
  const accepted = new Promise((r) => {
    const srv = createServer((sock) => {
      out = sock;
      r();
    });
    srv.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: srv.address().port }));
  });
  const sources = new Map();
  process.on('message', async (m) => {
    if (m.other) {
      for (const sizeMb of m.sizes) sources.set(sizeMb, Buffer.alloc(sizeMb * MiB, 1));
      const inbound = connect({
        host: '127.0.0.1',
        port: m.other,
        onread: {
          buffer: sink,
          callback: (n) => {
            got += n;
            if (expected && got >= expected) onComplete();
            return true;
          },
        },
      });
      await new Promise((r) => inbound.once('connect', r));
      await accepted;
      process.send({ type: 'configured' });
      return;
    }
    const payload = sources.get(m.sizeMb);
    const t0 = performance.now();
    const received = new Promise((r) => {
      expected = payload.length;
      onComplete = r;
      if (got >= expected) r();
    });
    out.write(payload);
    await received;
    got -= expected;
    expected = 0;
    process.send({ type: 'exchanged', seconds: (performance.now() - t0) / 1000 });
  });
}
