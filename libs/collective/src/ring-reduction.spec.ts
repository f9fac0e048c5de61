import { CollectiveError } from './collective-error.js';
import { RingReduction, type RingChunk } from './ring-reduction.js';
import { planBroadcast, planRing, type RingPlan } from './ring-schedule.js';

/** Runs N reductions against each other through in-memory links, copying each chunk as a transport would. */
function simulate(inputs: Float32Array[], bucketElements: number, order: 'forward' | 'backward', plan: (rank: number, N: number, elements: number) => RingPlan = (r, N, n) => planRing(r, N, n, bucketElements)): Float32Array[] {
  const N = inputs.length;
  const buffers = inputs.map((b) => b.slice());
  const reductions = buffers.map((b, r) => new RingReduction(b, plan(r, N, b.length), 7, { operation: 'allReduce', predecessor: { rank: (r - 1 + N) % N, address: 'memory' } }));
  const links: RingChunk[][] = buffers.map(() => []);
  const ranks = [...Array(N).keys()];
  if (order === 'backward') ranks.reverse();
  for (let round = 0; round < 10_000 && !reductions.every((x) => x.receivedAll && x.sentAll); round++) {
    for (const r of ranks) {
      const red = reductions[r]!;
      for (let c = red.nextSendable(); c; c = red.nextSendable()) links[(r + 1) % N]!.push({ ...c, data: c.data.slice() });
      // Deliver one chunk at a time so ranks interleave.
      const chunk = links[r]!.shift();
      if (chunk) red.accept(chunk);
    }
  }
  expect(reductions.every((x) => x.receivedAll && x.sentAll)).toBe(true);
  return buffers;
}

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 20 - 10);
}

describe('ring reduction (in memory)', () => {
  it.each([
    [2, 10, 3],
    [3, 10, 4],
    [4, 1000, 7],
    [4, 3, 2],
    [3, 1, 5],
    [5, 0, 5],
    [2, 4096, 4096],
  ])('N=%i, %i elements, buckets of %i: every rank gets the mean, bit-identical', (N, elements, bucket) => {
    const inputs = Array.from({ length: N }, (_, r) => random(elements, r + 1));
    for (const order of ['forward', 'backward'] as const) {
      const out = simulate(inputs, bucket, order);
      for (let i = 0; i < elements; i++) {
        const mean = inputs.reduce((s, b) => s + b[i]!, 0) / N;
        expect(Math.abs(out[0]![i]! - mean)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(mean)));
      }
      for (let r = 1; r < N; r++) expect(Buffer.from(out[r]!.buffer).equals(Buffer.from(out[0]!.buffer))).toBe(true);
    }
  });

  it.each([
    [2, 0, 10, 3],
    [3, 1, 100, 7],
    [4, 3, 5, 2],
    [4, 2, 0, 2],
  ])('broadcast N=%i from root %i, %i elements, buckets of %i: every rank gets the root\'s bytes', (N, root, elements, bucket) => {
    const inputs = Array.from({ length: N }, (_, r) => random(elements, r + 11));
    for (const order of ['forward', 'backward'] as const) {
      const out = simulate(inputs, bucket, order, (r, n, e) => planBroadcast(r, n, e, bucket, root));
      for (const b of out) expect(Buffer.from(b.buffer).equals(Buffer.from(inputs[root]!.buffer))).toBe(true);
    }
  });

  it('rejects a chunk of another call, an unexpected step, or a bucket of the wrong size', () => {
    const plan = planRing(1, 2, 10, 4);
    const make = () => new RingReduction(new Float32Array(10), plan, 3, { operation: 'allReduce', predecessor: { rank: 0, address: '10.0.0.1:7000' } });
    const good: RingChunk = { seq: 3, step: 0, index: 0, offset: 0, senderRank: 0, data: new Float32Array(4) };
    expect(() => make().accept({ ...good, seq: 2 })).toThrow(/rank 1 allReduce #3 step 0, peer rank 0 \(10.0.0.1:7000\): PROTOCOL_VIOLATION: received a chunk of call #2 during call #3/);
    expect(() => make().accept({ ...good, step: 1 })).toThrow(/expected step 0 bucket 0, received step 1 bucket 0/);
    expect(() => make().accept({ ...good, data: new Float32Array(3) })).toThrow(/bucket covers elements 0\+3, expected 0\+4/);
    expect(() => make().accept({ ...good, senderRank: 1 })).toThrow(CollectiveError);
    expect(() => make().accept(good)).not.toThrow();
  });

  it('holds back a bucket of step s until bucket i of step s-1 has arrived', () => {
    const r = new RingReduction(new Float32Array(8), planRing(0, 2, 8, 2), 1, { operation: 'allReduce', predecessor: { rank: 1, address: 'memory' } });
    // Step 0 sends segment 0 (elements 0-3) in two buckets; step 1 must wait for step 0's receive.
    expect(r.nextSendable()?.step).toBe(0);
    expect(r.nextSendable()?.step).toBe(0);
    expect(r.nextSendable()).toBeUndefined();
    r.accept({ seq: 1, step: 0, index: 0, offset: 4, senderRank: 1, data: new Float32Array(2) });
    const c = r.nextSendable();
    expect([c?.step, c?.index, c?.offset]).toEqual([1, 0, 4]);
    expect(r.nextSendable()).toBeUndefined();
    expect(r.awaiting).toEqual({ step: 0, index: 1 });
  });
});
