import type { LayersModel, NamedTensorMap, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../compute-backend.js';
import type { GradientStep } from '../training-step.js';
import { shardOfStep } from './batch-shard.js';
import { WeightDivergenceError, type DataParallelGroup } from './data-parallel-group.js';
import { weightChecksum } from './weight-checksum.js';

const CONTROL_CODES = ['none', 'pause', 'stop', 'handback'] as const;
type Control = (typeof CONTROL_CODES)[number];

/**
 * One rank's side of data-parallel training: what the session calls at the points where ranks must
 * agree (starting weights, control requests, each update's gradient, each epoch's end). Every rank
 * makes the same collective calls in the same order; the group's calls carry their own deadline, so
 * a dead or hung rank makes the others fail instead of hang.
 */
export class DataParallel {
  /**
   * Sum over the window of case-count x mean gradient, then the case count, the loss sum and rank 0's
   * control request: one all-reduce per update, reused.
   */
  private readonly buffer: Float32Array;
  private readonly elements: number;
  private windowLossSum = 0;
  private agreedControl: Control = 'none';

  /**
   * `readControl` is consulted on rank 0 only, as each collective call is prepared; its answer
   * travels with that call, so control costs no extra round trip.
   */
  constructor(
    private readonly tf: Tf,
    private readonly group: DataParallelGroup,
    private readonly variables: readonly Variable[],
    private readonly readControl: () => Control = () => 'none',
  ) {
    this.elements = variables.reduce((s, v) => s + v.size, 0);
    this.buffer = new Float32Array(this.elements + 3);
  }

  get rank(): number {
    return this.group.rank;
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  /** Rank 0 validates, reports, and writes checkpoints. */
  get isRoot(): boolean {
    return this.group.rank === 0;
  }

  shard(order: Uint32Array, step: number, batchSize: number): Uint32Array {
    return shardOfStep(order, step, batchSize, this.group.rank, this.group.worldSize);
  }

  /**
   * Every weight (trainable or not) becomes rank 0's: the same seed already gives every rank the same
   * model, but user-supplied starting weights or a checkpoint read on one rank must agree too.
   * Optimizer state is not sent: a resumed run must give every rank the same checkpoint.
   */
  async broadcastWeights(model: LayersModel): Promise<void> {
    const weights = model.weights.map((w) => w.read());
    const total = weights.reduce((s, t) => s + t.size, 0);
    const flat = new Float32Array(total + 1);
    let offset = 0;
    for (const t of weights) {
      flat.set(t.dataSync() as Float32Array, offset);
      offset += t.size;
    }
    flat[total] = this.controlCode();
    await this.group.broadcast(flat, 0);
    this.agreedControl = this.controlFrom(flat[total]!);
    offset = 0;
    const received = weights.map((t) => {
      const values = flat.slice(offset, offset + t.size);
      offset += t.size;
      return this.tf.tensor(values, t.shape, t.dtype);
    });
    model.setWeights(received);
    this.tf.dispose(received);
  }

  /**
   * Rank 0's control request (pause, stop, handback) as of the last collective call, the same on
   * every rank; reading it clears it. The session reads it where it would call control().
   */
  takeControl(): Control {
    const request = this.agreedControl;
    this.agreedControl = 'none';
    return request;
  }

  private controlCode(): number {
    return this.isRoot ? CONTROL_CODES.indexOf(this.readControl()) : 0;
  }

  private controlFrom(code: number): Control {
    const request = CONTROL_CODES[Math.round(code)];
    if (request === undefined) throw new Error(`rank ${this.rank} received control code ${code} from rank 0, not one of 0..${CONTROL_CODES.length - 1}`);
    return request;
  }

  /** Counts one micro-batch's mean loss over `count` cases towards the window's global training loss. */
  noteLoss(loss: number, count: number): void {
    this.windowLossSum += loss * count;
  }

  /**
   * Ends an update: this rank's window gradient, weighted by its case count, is all-reduced with
   * the counts, so the result is the sum of per-case gradients over all ranks divided by the global
   * count (a short or empty shard weighs what it holds, not a full rank's share). The same mean is
   * then clipped and applied on every rank. Returns the update's global case count and loss sum.
   */
  async reduceAndApply(stepper: GradientStep): Promise<{ cases: number; lossSum: number }> {
    const { tf, buffer, elements } = this;
    const { grads, cases } = stepper.drain();
    let offset = 0;
    for (const v of this.variables) {
      const end = offset + v.size;
      if (grads) {
        const g = grads[v.name];
        if (!g) throw new Error(`rank ${this.rank}: no gradient for variable ${v.name}`);
        const values = g.dataSync();
        for (let i = 0; i < values.length; i++) buffer[offset + i] = values[i]! * cases;
      } else {
        buffer.fill(0, offset, end);
      }
      offset = end;
    }
    if (grads) tf.dispose(Object.values(grads));
    buffer[elements] = cases;
    buffer[elements + 1] = this.windowLossSum;
    // Only rank 0 contributes: code x worldSize / worldSize is the code again, exactly.
    buffer[elements + 2] = this.controlCode() * this.group.worldSize;
    this.windowLossSum = 0;
    await this.group.allReduceMean(buffer);
    this.agreedControl = this.controlFrom(buffer[elements + 2]!);
    // buffer[elements] is now (global count) / worldSize, the same factor every sum was divided by.
    const scale = 1 / buffer[elements]!;
    const mean: NamedTensorMap = {};
    offset = 0;
    for (const v of this.variables) {
      const values = new Float32Array(v.size);
      for (let i = 0; i < values.length; i++) values[i] = buffer[offset + i]! * scale;
      mean[v.name] = tf.tensor(values, v.shape);
      offset += v.size;
    }
    stepper.applyMean(mean);
    const w = this.group.worldSize;
    return { cases: Math.round(buffer[elements]! * w), lossSum: buffer[elements + 1]! * w };
  }

  /**
   * At an epoch's end: compares every rank's weight checksum with rank 0's (a mismatch throws
   * WeightDivergenceError on every rank), gathers each rank's samples/s, and hands every rank
   * rank 0's monitored validation figure (as float32), so that early stopping and
   * reduce-on-plateau decide the same everywhere, with rank 0's control request. Two collective calls.
   */
  async agreeAtEpochEnd(epoch: number, samplesPerSecond: number, monitored: number): Promise<{ monitored: number; rankSamplesPerSecond: number[] }> {
    const own = weightChecksum(this.variables.map((v) => v.dataSync() as Float32Array));
    const fromRoot = Float32Array.of(...own, monitored, this.controlCode());
    await this.group.broadcast(fromRoot, 0);
    this.agreedControl = this.controlFrom(fromRoot[5]!);
    const w = this.group.worldSize;
    // One slot per rank for "diverged" and one for its throughput; the mean times w gives each back.
    const gathered = new Float32Array(2 * w);
    gathered[this.rank] = own.every((h, i) => h === fromRoot[i]) ? 0 : w;
    gathered[w + this.rank] = samplesPerSecond * w;
    await this.group.allReduceMean(gathered);
    const diverged = Array.from({ length: w }, (_, r) => r).filter((r) => gathered[r]! > 0.5);
    if (diverged.length > 0) throw new WeightDivergenceError(epoch, this.rank, diverged);
    return { monitored: fromRoot[4]!, rankSamplesPerSecond: Array.from(gathered.subarray(w)) };
  }
}
