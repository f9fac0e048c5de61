import { CollectiveError, type CollectivePeerRef } from './collective-error.js';
import { encodeDataHeader, opHash, type DataFrameHeader } from './data-frame.js';
import type { InboundLink, OutboundLink } from './data-link.js';
import type { RingCallBase } from './ring-call.js';
import { ringDeadlineError, RingReduction } from './ring-reduction.js';

export interface SocketRingCallArgs extends RingCallBase {
  inbound: InboundLink;
  outbound: OutboundLink;
  predecessor: CollectivePeerRef;
  successor: CollectivePeerRef;
}

/**
 * One ring all-reduce (or broadcast) over the socket data plane: the same schedule and per-rank
 * state machine as the gRPC path (RingReduction), with frames written as views of the buffer and
 * read into their destination. Resolves once every bucket has arrived and every outgoing bucket
 * is in the kernel's hands, so the caller may change the buffer afterwards. A failure sends an
 * abort frame with its code both ways and closes both connections, so the neighbours fail at once
 * with the same code and pass it on around the ring.
 */
export function runSocketRingCall(args: SocketRingCallArgs): Promise<void> {
  const { buffer, plan, seq, operation, inbound, outbound } = args;
  const rank = plan.rank;
  const pred = args.predecessor;
  const succ = args.successor;
  const hash = opHash(args.op);
  const context = (peer: CollectivePeerRef, step?: number) => ({ rank, operation, seq, peer, step });

  return new Promise<void>((resolve, reject) => {
    const reduction = new RingReduction(buffer, plan, seq, { operation, predecessor: pred });
    let settled = false;
    let unflushed = 0;
    /** The successor said it began this call with the same op and size (it must before the call ends). */
    let successorBegan = false;
    let awaitingDrain = false;
    const timer = setTimeout(() => fail(deadlineError()), Math.max(0, args.deadline - Date.now()));
    const onAbort = () => fail(args.signal?.reason instanceof CollectiveError ? args.signal.reason : new CollectiveError('CLOSED', 'the call was aborted', context(succ)));
    args.signal?.addEventListener('abort', onAbort, { once: true });

    const deadlineError = () => ringDeadlineError({ reduction, successorBegan, deadlineMs: args.deadlineMs, predecessor: pred, successor: succ, context });

    function finish(): void {
      clearTimeout(timer);
      args.signal?.removeEventListener('abort', onAbort);
      inbound.setSink(undefined);
      outbound.watch(undefined);
    }

    function succeed(): void {
      if (settled || !successorBegan || !reduction.receivedAll || !reduction.sentAll || unflushed > 0) return;
      settled = true;
      finish();
      resolve();
    }

    /** Both neighbours hear the code (whoever found it), pass it on, and the group is broken. */
    function fail(error: CollectiveError): void {
      if (settled) return;
      settled = true;
      finish();
      outbound.abort(seq, error.code, error.message);
      inbound.abort(seq, error.code, error.message);
      reject(error);
    }

    function pump(): void {
      if (settled || awaitingDrain) return;
      for (let chunk = reduction.nextSendable(); chunk; chunk = reduction.nextSendable()) {
        const header = encodeDataHeader(
          { seq, step: chunk.step, index: chunk.index, offset: chunk.offset, length: chunk.data.length, callElements: buffer.length, opHash: hash },
          outbound.headerBuffer(),
        );
        unflushed++;
        const ok = outbound.send(header, chunk.data, (error) => {
          unflushed--;
          outbound.recycle(header);
          if (error) fail(new CollectiveError('PEER_LEFT', `sending to successor rank ${succ.rank} failed: ${error.message}`, context(succ, chunk.step)));
          else succeed();
        });
        if (!ok) {
          awaitingDrain = true;
          outbound.onceDrain(() => {
            awaitingDrain = false;
            pump();
          });
          return;
        }
      }
    }

    const misfit = (detail: string, h: DataFrameHeader) => new CollectiveError('PROTOCOL_VIOLATION', `from predecessor rank ${pred.rank}: ${detail}`, context(pred, h.step));
    // A neighbour that leaves once this call needs nothing more from it (it finished the call and
    // closed its group) does not fail the call; the next call finds the link broken.
    const sendsDone = () => successorBegan && reduction.sentAll && unflushed === 0;
    outbound.watch((error) => (sendsDone() && error.code === 'PEER_LEFT' ? succeed() : fail(error)));
    outbound.awaitBegin(seq, (begin) => {
      if (begin.op !== args.op) return fail(new CollectiveError('CALL_MISMATCH', `this rank is in call "${args.op}" but successor rank ${succ.rank} is in "${begin.op}"`, context(succ)));
      if (begin.elements !== buffer.length) {
        return fail(new CollectiveError('SIZE_MISMATCH', `this rank all-reduces ${buffer.length} elements but successor rank ${succ.rank} has ${begin.elements}`, context(succ)));
      }
      successorBegan = true;
      succeed();
    });
    inbound.setSink({
      seq,
      elements: buffer.length,
      op: args.op,
      target(h) {
        if (h.opHash !== hash) return new CollectiveError('CALL_MISMATCH', `this rank is in call "${args.op}" but predecessor rank ${pred.rank} is in another call (all-reduce against broadcast, or another root)`, context(pred));
        if (h.callElements !== buffer.length) {
          return new CollectiveError('SIZE_MISMATCH', `this rank all-reduces ${buffer.length} elements but predecessor rank ${pred.rank} has ${h.callElements}`, context(pred));
        }
        const expected = reduction.expected();
        if (!expected) return misfit(`a bucket after the last step`, h);
        if (h.step !== expected.step || h.index !== expected.index) return misfit(`expected step ${expected.step} bucket ${expected.index}, received step ${h.step} bucket ${h.index}`, h);
        if (h.offset !== expected.offset || h.length !== expected.length) return misfit(`bucket covers elements ${h.offset}+${h.length}, expected ${expected.offset}+${expected.length}`, h);
        // All-gather buckets land in their place; reduce buckets in the staging array, then are added.
        return expected.recvOp === 'copy' ? buffer.subarray(h.offset, h.offset + h.length) : inbound.stagingArray(h.length);
      },
      chunk(h, data) {
        if (settled) return;
        try {
          reduction.accept({ seq: h.seq, step: h.step, index: h.index, offset: h.offset, senderRank: pred.rank, data });
        } catch (error) {
          return fail(error instanceof CollectiveError ? error : new CollectiveError('PROTOCOL_VIOLATION', String(error), context(pred, h.step)));
        }
        pump();
        succeed();
      },
      // SIZE_MISMATCH / CALL_MISMATCH / PROTOCOL_VIOLATION found here, or the predecessor's abort or
      // loss; a predecessor that left after sending all of this call's buckets is no failure yet.
      fail(error) {
        if (reduction.receivedAll && error.code === 'PEER_LEFT') return succeed();
        fail(error);
      },
    });
    if (outbound.lost) return fail(outbound.lost);
    pump();
    succeed();
  });
}
