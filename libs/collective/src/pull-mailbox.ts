import type { ServerWritableStream } from '@grpc/grpc-js';
import type { CollectiveError } from './collective-error.js';
import { statusFor } from './grpc-status.js';
import type { PullRequest } from './collective-protocol.js';
import type { RingChunk } from './ring-reduction.js';

export type PullCall = ServerWritableStream<PullRequest, RingChunk>;

interface Taker {
  resolve: (call: PullCall) => void;
  reject: (error: Error) => void;
}

/**
 * Matches the successor's Pull calls to this rank's collective calls by sequence number: the
 * successor may ask before or after this rank starts call `seq`. A pull for a call this rank has
 * already finished is refused, so a late or repeated request never receives another call's data.
 */
export class PullMailbox {
  private readonly waiting = new Map<number, PullCall>();
  private readonly takers = new Map<number, Taker>();
  private completedSeq = 0;
  private failure?: CollectiveError;

  offer(call: PullCall): void {
    const seq = call.request.seq;
    if (this.failure) return refuse(call, this.failure.code, `this rank stopped before call #${seq}: ${this.failure.message}`);
    if (seq <= this.completedSeq) return refuse(call, 'PROTOCOL_VIOLATION', `call #${seq} is over on this rank (it has finished #${this.completedSeq})`);
    if (this.waiting.has(seq)) return refuse(call, 'PROTOCOL_VIOLATION', `a second pull for call #${seq}`);
    const taker = this.takers.get(seq);
    if (taker) {
      this.takers.delete(seq);
      taker.resolve(call);
      return;
    }
    this.waiting.set(seq, call);
    call.once('cancelled', () => {
      if (this.waiting.get(seq) === call) this.waiting.delete(seq);
    });
  }

  /** The successor's pull for call `seq`, as soon as it arrives; `cancel` withdraws the wait. */
  take(seq: number): { call: Promise<PullCall>; cancel: () => void } {
    const ready = this.waiting.get(seq);
    if (ready) {
      this.waiting.delete(seq);
      return { call: Promise.resolve(ready), cancel: () => {} };
    }
    const call = new Promise<PullCall>((resolve, reject) => this.takers.set(seq, { resolve, reject }));
    return { call, cancel: () => this.takers.delete(seq) };
  }

  complete(seq: number): void {
    this.completedSeq = Math.max(this.completedSeq, seq);
  }

  /** Refuses every waiting and future pull with the reason (and code) this rank stopped for. */
  fail(error: CollectiveError): void {
    this.failure ??= error;
    for (const call of this.waiting.values()) refuse(call, error.code, error.message);
    this.waiting.clear();
    for (const taker of this.takers.values()) taker.reject(error);
    this.takers.clear();
  }
}

function refuse(call: PullCall, code: CollectiveError['code'], details: string): void {
  call.emit('error', statusFor(code, details));
}
