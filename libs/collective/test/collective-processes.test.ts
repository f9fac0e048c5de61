import { jest } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Ranks as real processes on 127.0.0.1 (built code: run `npm run build` first): three processes agree
 * bit for bit on an all-reduce, then one is SIGKILLed in the middle of all-reducing and the
 * survivors must fail with a CollectiveError within the deadline instead of hanging.
 */
jest.setTimeout(60_000);
const script = fileURLToPath(new URL('./fixtures/rank-process.mjs', import.meta.url));

interface Message {
  type: string;
  port?: number;
  digest?: string;
  values?: number[];
  n?: number;
  code?: string;
  message?: string;
  peerRank?: number;
  at?: number;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function waitFor(child: ChildProcess, predicate: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    const onMessage = (m: Message) => {
      if (predicate(m)) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m);
      }
    };
    child.on('message', onMessage);
  });
}

/** Starts N rank processes, hands them the peer list, and returns them with their first results. */
async function startRanks(N: number, deadlineMs: number, elements: number): Promise<{ ranks: ChildProcess[]; first: Message[] }> {
  const ranks = Array.from({ length: N }, () => fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  children.push(...ranks);
  const ports = await Promise.all(ranks.map((c, r) => waitFor(c, (m) => m.type === 'ready', 20_000, `rank ${r} to listen`).then((m) => m.port!)));
  const peers = ports.map((port) => ({ host: '127.0.0.1', port }));
  const results = ranks.map((c, r) => waitFor(c, (m) => m.type === 'result' || m.type === 'error', 30_000, `rank ${r}'s first all-reduce`));
  ranks.forEach((c, rank) => c.send({ rank, worldSize: N, peers, deadlineMs, elements, loopElements: 1 << 20 }));
  return { ranks, first: await Promise.all(results) };
}

it('three rank processes agree bit for bit, and survivors of a SIGKILLed rank fail within the deadline', async () => {
  const N = 3;
  const deadlineMs = 5000;
  const elements = 1001;
  const { ranks, first } = await startRanks(N, deadlineMs, elements);
  expect(first.map((m) => m.type)).toEqual(['result', 'result', 'result']);
  expect(new Set(first.map((m) => m.digest)).size).toBe(1);
  for (let i = 0; i < elements; i++) {
    const mean = [0, 1, 2].reduce((s, r) => s + Math.fround(Math.sin(i * (r + 1)) * (r + 1)), 0) / N;
    expect(Math.abs(first[0]!.values![i]! - mean)).toBeLessThanOrEqual(1e-6);
  }

  // Every rank is all-reducing in a loop; kill rank 1 once all have done a few iterations.
  await Promise.all(ranks.map((c, r) => waitFor(c, (m) => m.type === 'iter' && m.n! >= 2, 30_000, `rank ${r} to loop`)));
  const survivors = [0, 2].map((r) => waitFor(ranks[r]!, (m) => m.type === 'error', deadlineMs + 10_000, `rank ${r} to fail`));
  const killedAt = Date.now();
  ranks[1]!.kill('SIGKILL');
  const errors = await Promise.all(survivors);
  for (const e of errors) {
    expect(['PEER_LEFT', 'DEADLINE_EXCEEDED']).toContain(e.code);
    expect(e.at! - killedAt).toBeLessThan(deadlineMs + 2000);
  }
  // Each survivor blames rank 1: directly, or relaying what its other neighbour found first.
  for (const e of errors) expect(e.message).toMatch(/peer rank 1 \(127\.0\.0\.1:\d+\): PEER_LEFT/);
  await Promise.all([0, 2].map((r) => new Promise((resolve) => (ranks[r]!.exitCode !== null ? resolve(null) : ranks[r]!.once('exit', resolve)))));
});

it('a rank that hangs (SIGSTOP, connections still open) makes the others fail with DEADLINE_EXCEEDED, not hang', async () => {
  const deadlineMs = 2000;
  const { ranks, first } = await startRanks(3, deadlineMs, 10);
  expect(first.map((m) => m.type)).toEqual(['result', 'result', 'result']);
  await Promise.all(ranks.map((c, r) => waitFor(c, (m) => m.type === 'iter' && m.n! >= 2, 30_000, `rank ${r} to loop`)));
  const survivors = [0, 2].map((r) => waitFor(ranks[r]!, (m) => m.type === 'error', deadlineMs + 10_000, `rank ${r} to fail`));
  const stoppedAt = Date.now();
  ranks[1]!.kill('SIGSTOP');
  try {
    const errors = await Promise.all(survivors);
    for (const e of errors) {
      // One survivor times out waiting for rank 1; the other may hear of it from its other neighbour first.
      expect(['DEADLINE_EXCEEDED', 'PEER_LEFT']).toContain(e.code);
      expect(e.at! - stoppedAt).toBeLessThan(deadlineMs + 3000);
    }
    // Nobody died, so somebody's deadline fired. Usually the hung rank's successor blames rank 1;
    // on a loaded machine another rank's deadline can fire first and blame its own predecessor,
    // which is why the blame itself is not asserted here (the SIGKILL test above checks it).
    expect(errors.some((e) => e.code === 'DEADLINE_EXCEEDED')).toBe(true);
  } finally {
    ranks[1]!.kill('SIGKILL');
  }
});
