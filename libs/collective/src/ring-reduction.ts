import { CollectiveError, type CollectiveOperation, type CollectivePeerRef } from './collective-error.js';
import { reduceAdd } from './reduce-kernel.js';
import type { RecvOp, RingPlan } from './ring-schedule.js';

/** One bucket on the wire: which call, step and bucket it belongs to, and its float32 values. */
export interface RingChunk {
  seq: number;
  step: number;
  index: number;
  offset: number;
  senderRank: number;
  data: Float32Array;
}

/**
 * Why a ring call ran past its deadline, for both transports: the successor never began the call,
 * or the bucket the predecessor never sent, or else the successor stopped taking data.
 */
export function ringDeadlineError(o: {
  reduction: RingReduction;
  successorBegan: boolean;
  deadlineMs: number;
  predecessor: CollectivePeerRef;
  successor: CollectivePeerRef;
  context: (peer: CollectivePeerRef, step?: number) => ConstructorParameters<typeof CollectiveError>[2];
}): CollectiveError {
  const { predecessor: pred, successor: succ, context } = o;
  const within = `within the ${o.deadlineMs} ms deadline`;
  if (!o.successorBegan) return new CollectiveError('DEADLINE_EXCEEDED', `successor rank ${succ.rank} did not ask for this call's data ${within} (dead, stalled, or still busy before this call)`, context(succ));
  const awaiting = o.reduction.awaiting;
  if (awaiting) {
    return new CollectiveError('DEADLINE_EXCEEDED', `no data from predecessor rank ${pred.rank} for step ${awaiting.step} bucket ${awaiting.index} ${within} (dead, stalled or much slower)`, context(pred, awaiting.step));
  }
  return new CollectiveError('DEADLINE_EXCEEDED', `successor rank ${succ.rank} stopped taking data ${within} (stalled)`, context(succ));
}

export interface RingReductionContext {
  operation: CollectiveOperation;
  /** The predecessor, blamed for chunks that do not fit the schedule. */
  predecessor: CollectivePeerRef;
}

/**
 * The state of one all-reduce on one rank, with no I/O: which bucket may be sent next and what to do
 * with each bucket received. Sends read straight from the caller's buffer (the transport copies
 * them when it frames the message) and receives are added (reduce-scatter) or copied (all-gather)
 * into it, so the reduction works in place. Bucket i of step s can be sent once bucket i of step
 * s - 1 has arrived: it is that bucket, now with this rank's contribution added. Overwriting is
 * safe: a bucket is written again only after the successor has received it (the ring's causality).
 */
export class RingReduction {
  private readonly recvBase: number[] = [];
  private readonly totalRecv: number;
  private received = 0;
  private recvStep = 0;
  private recvIndex = 0;
  private sendStep = 0;
  private sendIndex = 0;

  constructor(
    private readonly buffer: Float32Array,
    private readonly plan: RingPlan,
    private readonly seq: number,
    private readonly context: RingReductionContext,
  ) {
    if (buffer.length !== plan.elements) {
      throw new RangeError(`buffer has ${buffer.length} elements but the plan was made for ${plan.elements}`);
    }
    let base = 0;
    for (const step of plan.steps) {
      this.recvBase.push(base);
      base += step.recvs.length;
    }
    this.totalRecv = base;
    this.skipEmptySteps();
  }

  /** Steps in which this rank sends or receives nothing (a broadcast's root and last rank) are passed over. */
  private skipEmptySteps(): void {
    const steps = this.plan.steps;
    while (this.sendStep < steps.length && steps[this.sendStep]!.sends.length === 0) this.sendStep++;
    while (this.recvStep < steps.length && steps[this.recvStep]!.recvs.length === 0) this.recvStep++;
  }

  get receivedAll(): boolean {
    return this.received === this.totalRecv;
  }

  get sentAll(): boolean {
    return this.sendStep === this.plan.steps.length;
  }

  /** The bucket the reduction waits for from its predecessor, for deadline messages. */
  get awaiting(): { step: number; index: number } | undefined {
    return this.receivedAll ? undefined : { step: this.recvStep, index: this.recvIndex };
  }

  /** The bucket expected next from the predecessor: where it goes and what is done with it. */
  expected(): { step: number; index: number; offset: number; length: number; recvOp: RecvOp } | undefined {
    const step = this.plan.steps[this.recvStep];
    if (!step || this.receivedAll) return undefined;
    const span = step.recvs[this.recvIndex]!;
    return { step: this.recvStep, index: this.recvIndex, offset: span.offset, length: span.length, recvOp: step.recvOp };
  }

  /** The next bucket to send, or undefined when everything is sent or the next one still waits for its input. */
  nextSendable(): RingChunk | undefined {
    const step = this.plan.steps[this.sendStep];
    if (!step) return undefined;
    const after = step.sendAfterRecvOfStep;
    if (after !== undefined && this.received <= this.recvBase[after]! + this.sendIndex) return undefined;
    const span = step.sends[this.sendIndex]!;
    const chunk: RingChunk = {
      seq: this.seq,
      step: this.sendStep,
      index: this.sendIndex,
      offset: span.offset,
      senderRank: this.plan.rank,
      data: this.buffer.subarray(span.offset, span.offset + span.length),
    };
    if (++this.sendIndex === step.sends.length) {
      this.sendStep++;
      this.sendIndex = 0;
      this.skipEmptySteps();
    }
    return chunk;
  }

  /** Applies the next bucket from the predecessor; anything out of schedule is a PROTOCOL_VIOLATION. */
  accept(chunk: RingChunk): void {
    const step = this.plan.steps[this.recvStep];
    const fail = (detail: string): never => {
      throw new CollectiveError('PROTOCOL_VIOLATION', detail, {
        rank: this.plan.rank,
        operation: this.context.operation,
        peer: this.context.predecessor,
        seq: this.seq,
        step: chunk.step,
      });
    };
    if (!step) return fail(`received a chunk after the last step (${this.plan.steps.length} steps)`);
    if (chunk.seq !== this.seq) return fail(`received a chunk of call #${chunk.seq} during call #${this.seq}`);
    if (chunk.step !== this.recvStep || chunk.index !== this.recvIndex) {
      return fail(`expected step ${this.recvStep} bucket ${this.recvIndex}, received step ${chunk.step} bucket ${chunk.index}`);
    }
    if (chunk.senderRank !== this.context.predecessor.rank) return fail(`chunk claims to come from rank ${chunk.senderRank}`);
    const span = step.recvs[this.recvIndex]!;
    if (chunk.offset !== span.offset || chunk.data.length !== span.length) {
      return fail(`bucket covers elements ${chunk.offset}+${chunk.data.length}, expected ${span.offset}+${span.length}`);
    }
    if (step.recvOp === 'copy') {
      // The socket data plane reads all-gather buckets straight into their place.
      const inPlace = chunk.data.buffer === this.buffer.buffer && chunk.data.byteOffset === this.buffer.byteOffset + span.offset * 4;
      if (!inPlace) this.buffer.set(chunk.data, span.offset);
    } else if (step.recvOp === 'add-divide') {
      // The last reduce-scatter step completes this rank's segment: sum, then divide by N once, so
      // the mean every rank gets is these exact bytes.
      reduceAdd(this.buffer, span.offset, chunk.data, this.plan.worldSize);
    } else {
      reduceAdd(this.buffer, span.offset, chunk.data, 1);
    }
    this.received++;
    if (++this.recvIndex === step.recvs.length) {
      this.recvStep++;
      this.recvIndex = 0;
      this.skipEmptySteps();
    }
  }
}
