import * as tf from '@tensorflow/tfjs';
import { shardOfStep, dataParallelStepsPerEpoch } from './batch-shard.js';
import { DataParallel } from './data-parallel.js';
import { WeightDivergenceError, type DataParallelGroup } from './data-parallel-group.js';
import { weightChecksum } from './weight-checksum.js';

/** N ranks in one process: each call completes once every rank has made it, as the real collective. */
function memoryGroups(worldSize: number): DataParallelGroup[] {
  interface Call {
    rank: number;
    buffer: Float32Array;
    root?: number;
    resolve: () => void;
  }
  let pending: Call[] = [];
  const arrive = (call: Call) => {
    pending.push(call);
    if (pending.length < worldSize) return;
    const calls = pending.sort((a, b) => a.rank - b.rank);
    pending = [];
    const root = calls[0]!.root;
    const result = root !== undefined ? Float32Array.from(calls[root]!.buffer) : calls[0]!.buffer.map((_, i) => calls.reduce((s, c) => s + c.buffer[i]!, 0) / worldSize);
    for (const c of calls) {
      c.buffer.set(result);
      c.resolve();
    }
  };
  return Array.from({ length: worldSize }, (_, rank) => ({
    rank,
    worldSize,
    allReduceMean: (buffer: Float32Array) => new Promise<void>((resolve) => arrive({ rank, buffer, resolve })),
    broadcast: (buffer: Float32Array, root: number) => new Promise<void>((resolve) => arrive({ rank, buffer, root, resolve })),
  }));
}

beforeAll(() => tf.setBackend('cpu'));

describe('shardOfStep', () => {
  it('splits each global batch into disjoint per-rank slices that together are the one-rank batch', () => {
    const order = Uint32Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
    expect(dataParallelStepsPerEpoch(100, 16, 2)).toBe(4);
    for (let step = 0; step < 4; step++) {
      const a = shardOfStep(order, step, 16, 0, 2);
      const b = shardOfStep(order, step, 16, 1, 2);
      expect([...a, ...b]).toEqual([...order.subarray(step * 32, Math.min(100, (step + 1) * 32))]);
    }
    // 100 = 3 x 32 + 4: rank 0 takes the last 4, rank 1 nothing.
    expect([shardOfStep(order, 3, 16, 0, 2).length, shardOfStep(order, 3, 16, 1, 2).length]).toEqual([4, 0]);
  });
});

describe('weightChecksum', () => {
  it('is bit-exact: one ulp, a sign of zero, or the order of tensors changes it', () => {
    const a = Float32Array.of(1, 2, 3);
    const b = Float32Array.of(4, 5);
    const base = weightChecksum([a, b]);
    expect(weightChecksum([Float32Array.from(a), Float32Array.from(b)])).toEqual(base);
    const ulp = Float32Array.from(a);
    new Uint32Array(ulp.buffer)[1]! += 1;
    expect(weightChecksum([ulp, b])).not.toEqual(base);
    expect(weightChecksum([b, a])).not.toEqual(base);
    expect(weightChecksum([Float32Array.of(0)])).not.toEqual(weightChecksum([Float32Array.of(-0)]));
    expect(base.every((h) => Number.isInteger(h) && h >= 0 && h < 65536)).toBe(true);
  });
});

describe('DataParallel.agreeAtEpochEnd', () => {
  const variables = (value: number) => [tf.variable(tf.fill([3], value), true, `v${Math.random()}`)];

  it("hands every rank rank 0's monitored figure and every rank's samples/s", async () => {
    const groups = memoryGroups(2);
    const ranks = groups.map((g) => new DataParallel(tf, g, variables(0.5)));
    const [a, b] = await Promise.all([ranks[0]!.agreeAtEpochEnd(1, 40, 0.75), ranks[1]!.agreeAtEpochEnd(1, 30, 0.1)]);
    expect(a).toEqual({ monitored: 0.75, rankSamplesPerSecond: [40, 30] });
    expect(b).toEqual(a);
  });

  it('throws WeightDivergenceError on every rank, naming the ranks that differ from rank 0', async () => {
    const groups = memoryGroups(3);
    const ranks = groups.map((g, r) => new DataParallel(tf, g, variables(r === 2 ? 0.5000001 : 0.5)));
    const outcomes = await Promise.allSettled(ranks.map((dp) => dp.agreeAtEpochEnd(4, 10, 0)));
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      const error = (o as PromiseRejectedResult).reason as WeightDivergenceError;
      expect(error).toBeInstanceOf(WeightDivergenceError);
      expect(error.divergedRanks).toEqual([2]);
      expect(error.message).toContain('after epoch 4');
    }
  });
});
