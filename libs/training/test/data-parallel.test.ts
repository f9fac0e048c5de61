import { jest } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Data-parallel training with real rank processes on 127.0.0.1 joined by the gRPC collective
 * (fixtures/ddp-rank.mjs on the built dist; `npm run build` first). Timing goals live in
 * bench/ddp-throughput.mjs.
 */
jest.setTimeout(120_000);
const script = fileURLToPath(new URL('./fixtures/ddp-rank.mjs', import.meta.url));

interface Run {
  cases: number;
  batchSize: number;
  epochs: number;
  model: 'plain' | 'batchNorm';
  training?: Record<string, unknown>;
  /** Rank 0 asks to pause once it has made this many steps; every rank then resumes from its checkpoint. */
  pauseAfterSteps?: number;
}
interface RunResult {
  weights: number[][];
  epochs: { epoch: number; metrics: Record<string, number>; samplesPerSecond: number; rankSamplesPerSecond?: number[] }[];
  steps: number[];
  checkpoints: number;
  paused?: { epoch: number; step: number };
}
interface Message {
  type: 'ready' | 'result' | 'error' | 'dying';
  port?: number;
  runs?: RunResult[];
  code?: string;
  name?: string;
  message?: string;
  divergedRanks?: number[];
  at?: number;
}
interface Settings {
  runs: Run[];
  deadlineMs?: number;
  perturbAtReduce?: number;
  dieAtReduce?: number;
  /** Rank the hooks apply to. */
  hookRank?: number;
}

const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'mf-ddp-'));
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function next(child: ChildProcess, types: Message['type'][], timeoutMs: number, what: string): Promise<Message> {
  const wait = new Promise<Message>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    // A wait that is never needed (a rank that never dies) must not keep Jest alive.
    timer.unref();
    const onMessage = (m: Message) => {
      if (!types.includes(m.type)) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
  });
  // Some waits are never awaited (the result of a rank the test kills): when their timer fires
  // after this file is done, the rejection must not surface as an unhandled rejection inside
  // whichever test file Jest runs next in this worker. Awaiting `wait` still throws.
  wait.catch(() => {});
  return wait;
}

/** worldSize 0: one plain session (no `distributed` option), the reference. */
async function start(worldSize: number, s: Settings): Promise<{ ranks: ChildProcess[]; ended: Promise<Message>[]; dying: Promise<Message>[] }> {
  const ranks = Array.from({ length: Math.max(1, worldSize) }, () => fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  children.push(...ranks);
  const ports = await Promise.all(ranks.map((c, r) => next(c, ['ready'], 30_000, `rank ${r} to listen`).then((m) => m.port!)));
  const peers = ports.map((port) => ({ host: '127.0.0.1', port }));
  const ended = ranks.map((c, r) => next(c, ['result', 'error'], 100_000, `rank ${r} to finish`));
  const dying = ranks.map((c) => next(c, ['dying'], 100_000, 'a rank to die'));
  dying.forEach((p) => p.catch(() => undefined));
  ranks.forEach((c, rank) => {
    const hooked = rank === (s.hookRank ?? 1);
    c.send({ rank, worldSize, peers, runs: s.runs, checkpointPath: join(dir, `paused-${worldSize}.ckpt`), deadlineMs: s.deadlineMs ?? 20_000, perturbAtReduce: hooked ? s.perturbAtReduce : undefined, dieAtReduce: hooked ? s.dieAtReduce : undefined });
  });
  return { ranks, ended, dying };
}

async function results(worldSize: number, s: Settings): Promise<RunResult[][]> {
  const { ended } = await start(worldSize, s);
  const messages = await Promise.all(ended);
  for (const m of messages) if (m.type !== 'result') throw new Error(`a rank failed: ${m.name} ${m.code ?? ''}: ${m.message}`);
  return messages.map((m) => m.runs!);
}

/** max |a - b| / max |a| over every weight tensor. */
function relativeDifference(a: number[][], b: number[][]): number {
  let diff = 0;
  let scale = 0;
  a.forEach((t, i) =>
    t.forEach((v, j) => {
      diff = Math.max(diff, Math.abs(v - b[i]![j]!));
      scale = Math.max(scale, Math.abs(v));
    }),
  );
  return diff / scale;
}

describe('data-parallel training over the gRPC collective', () => {
  // B = 32: 100 cases give global batches 32, 32, 32, 4, so rank 1's last shard is empty; 90 cases
  // end with 26 = 16 + 10. A plain mean of the ranks' means would weigh those wrongly.
  const B = 32;
  const runs: Run[] = [
    { cases: 100, batchSize: B, epochs: 2, model: 'plain' },
    { cases: 90, batchSize: B, epochs: 2, model: 'plain', training: { optimizer: 'sgd', momentum: 0.9, gradientAccumulationSteps: 2 } },
  ];

  it('two ranks with per-rank batch B/2 end with the weights of one process with batch B, uneven last batches included', async () => {
    const [reference] = await results(0, { runs });
    // The third run pauses through rank 0's control once it has made 5 steps, and resumes.
    const halves = runs.map((r) => ({ ...r, batchSize: B / 2 }));
    const [rank0, rank1] = await results(2, { runs: [...halves, { ...halves[0]!, pauseAfterSteps: 5 }] });
    runs.forEach((run, i) => {
      // Both replicas hold bit-identical weights (same all-reduced bytes, same update).
      expect(rank1![i]!.weights).toEqual(rank0![i]!.weights);
      expect(relativeDifference(reference![i]!.weights, rank0![i]!.weights)).toBeLessThan(1e-5);
      // Rank 0 alone reports and checkpoints; the global training loss matches the single process's.
      expect(rank0![i]!.epochs.map((e) => e.epoch)).toEqual([1, 2]);
      expect(rank1![i]!.epochs).toEqual([]);
      expect(rank1![i]!.steps).toEqual([]);
      expect(rank0![i]!.checkpoints).toBe(reference![i]!.checkpoints);
      expect(rank1![i]!.checkpoints).toBe(0);
      expect(rank0![i]!.steps).toEqual(reference![i]!.steps);
      const lossRef = reference![i]!.epochs.map((e) => e.metrics.train_loss!);
      rank0![i]!.epochs.forEach((e, k) => expect(Math.abs(e.metrics.train_loss! - lossRef[k]!)).toBeLessThan(1e-4 * Math.abs(lossRef[k]!)));
      // Per-rank throughput reaches rank 0's events, and the total is their sum.
      for (const e of rank0![i]!.epochs) {
        expect(e.rankSamplesPerSecond).toHaveLength(2);
        expect(e.rankSamplesPerSecond!.every((v) => v > 0)).toBe(true);
        expect(e.samplesPerSecond).toBeCloseTo(e.rankSamplesPerSecond![0]! + e.rankSamplesPerSecond![1]!, 3);
      }
      // Training did move the weights (the loss fell), so equal weights are not two untouched starts.
      expect(lossRef[1]!).toBeLessThan(lossRef[0]!);
      expect(rank0![i]!.steps).toHaveLength(run.epochs * Math.ceil(run.cases / B));
    });
    // Rank 0's pause travels with the next gradient all-reduce (step 6's, prepared before rank 0
    // reports step 6), so both ranks stop before epoch 2's step 3 and resume from rank 0's
    // checkpoint to the uninterrupted run's weights.
    expect([rank0![2]!.paused, rank1![2]!.paused]).toEqual([{ epoch: 1, step: 2 }, { epoch: 1, step: 2 }]);
    expect(rank0![2]!.weights).toEqual(rank0![0]!.weights);
    expect(rank1![2]!.weights).toEqual(rank0![0]!.weights);
    expect([rank0![2]!.checkpoints, rank1![2]!.checkpoints]).toEqual([rank0![0]!.checkpoints + 1, 0]);
  });

  it('a replica perturbed on one rank makes both ranks stop at the next epoch check, naming the epoch and the rank', async () => {
    // A BatchNorm model (per-rank statistics, not checksummed) passes epoch 1's check; rank 1's
    // third gradient (epoch 2) is nudged after the all-reduce, as a corrupted transfer would.
    const { ended } = await start(2, { runs: [{ cases: 64, batchSize: 16, epochs: 3, model: 'batchNorm' }], perturbAtReduce: 3, hookRank: 1 });
    const [r0, r1] = await Promise.all(ended);
    for (const [rank, m] of [r0!, r1!].entries()) {
      expect({ rank, type: m.type, code: m.code, divergedRanks: m.divergedRanks }).toEqual({ rank, type: 'error', code: 'WEIGHT_DIVERGENCE', divergedRanks: [1] });
      expect(m.message).toContain('after epoch 2');
    }
  });

  it('a rank killed mid-epoch makes the other fail with the collective error within the deadline', async () => {
    const deadlineMs = 4000;
    const { ranks, ended, dying } = await start(2, { runs: [{ cases: 100, batchSize: 16, epochs: 3, model: 'plain' }], deadlineMs, dieAtReduce: 3, hookRank: 1 });
    const died = await dying[1]!;
    const survivor = await ended[0]!;
    expect(survivor.type).toBe('error');
    expect(['PEER_LEFT', 'DEADLINE_EXCEEDED']).toContain(survivor.code);
    expect(survivor.at! - died.at!).toBeLessThan(deadlineMs + 3000);
    await new Promise((resolve) => (ranks[1]!.exitCode !== null || ranks[1]!.signalCode !== null ? resolve(undefined) : ranks[1]!.once('exit', resolve)));
    expect(ranks[1]!.signalCode).toBe('SIGKILL');
  });
});
