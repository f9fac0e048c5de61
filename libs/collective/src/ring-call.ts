import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { CollectiveError, type CollectiveOperation, type CollectivePeerRef } from './collective-error.js';
import { collectiveErrorFromGrpc, statusFor } from './grpc-status.js';
import type { PeerClient } from './peer-client.js';
import type { PullCall, PullMailbox } from './pull-mailbox.js';
import { ringDeadlineError, RingReduction, type RingChunk } from './ring-reduction.js';
import type { RingPlan } from './ring-schedule.js';

/** gRPC's own deadline trails ours, so the error users see is the one that says what was awaited. */
const GRPC_DEADLINE_GRACE_MS = 1000;

/** What every ring call needs, whichever transport carries its buckets. */
export interface RingCallBase {
  operation: CollectiveOperation;
  buffer: Float32Array;
  plan: RingPlan;
  /** What the call does, the same string on every rank: "mean" or "broadcast:<root>". */
  op: string;
  seq: number;
  /** Epoch ms by which the call must be over. */
  deadline: number;
  deadlineMs: number;
  /** Aborting fails the call at once with the signal's reason (a CollectiveError), e.g. on close(). */
  signal?: AbortSignal;
}

export interface RingCallArgs extends RingCallBase {
  jobId: string;
  predecessor: CollectivePeerRef & { client: PeerClient };
  successor: CollectivePeerRef;
  mailbox: PullMailbox;
}

/**
 * Runs one ring all-reduce over two streams: the Pull this rank opens to its predecessor (chunks
 * in) and the Pull its successor opened to it (chunks out). Resolves once every chunk has arrived
 * and every outgoing chunk has been handed to gRPC (which copies it), so the caller may change the
 * buffer afterwards. Any failure cancels both streams, which tells both neighbours at once; they
 * fail and tell theirs, so a failure anywhere reaches every rank well before the deadline.
 */
export function runRingCall(args: RingCallArgs): Promise<void> {
  const { buffer, plan, seq, rank, operation } = { ...args, rank: args.plan.rank };
  const pred: CollectivePeerRef = { rank: args.predecessor.rank, address: args.predecessor.address };
  const succ = args.successor;
  const context = (peer: CollectivePeerRef, step?: number) => ({ rank, operation, seq, peer, step });

  return new Promise<void>((resolve, reject) => {
    const reduction = new RingReduction(buffer, plan, seq, { operation, predecessor: pred });
    let settled = false;
    let failure: CollectiveError | undefined;
    let outbound: PullCall | undefined;
    let awaitingDrain = false;
    let ended = false;
    let outboundFinished = false;

    const inbound: ClientReadableStream<RingChunk> = args.predecessor.client.pull({ jobId: args.jobId, rank, seq, elements: buffer.length, op: args.op }, args.deadline + GRPC_DEADLINE_GRACE_MS);
    const taking = args.mailbox.take(seq);
    const timer = setTimeout(() => fail(deadlineError()), Math.max(0, args.deadline - Date.now()));
    const onAbort = () => fail(args.signal?.reason instanceof CollectiveError ? args.signal.reason : new CollectiveError('CLOSED', 'the call was aborted', context(succ)));
    args.signal?.addEventListener('abort', onAbort, { once: true });

    // The successor has begun the call once its Pull arrived.
    const deadlineError = () => ringDeadlineError({ reduction, successorBegan: outbound !== undefined, deadlineMs: args.deadlineMs, predecessor: pred, successor: succ, context });

    function succeed(): void {
      if (settled || !reduction.receivedAll || !outboundFinished) return;
      settled = true;
      clearTimeout(timer);
      args.signal?.removeEventListener('abort', onAbort);
      args.mailbox.complete(seq);
      resolve();
    }

    function fail(error: CollectiveError): void {
      if (settled) return;
      settled = true;
      failure = error;
      clearTimeout(timer);
      args.signal?.removeEventListener('abort', onAbort);
      taking.cancel();
      inbound.cancel();
      if (outbound && !outboundFinished) outbound.emit('error', statusFor(error.code, error.message));
      reject(error);
    }

    function pump(): void {
      if (!outbound || settled || awaitingDrain) return;
      for (let chunk = reduction.nextSendable(); chunk; chunk = reduction.nextSendable()) {
        if (!outbound.write(chunk)) {
          awaitingDrain = true;
          outbound.once('drain', () => {
            awaitingDrain = false;
            pump();
          });
          return;
        }
      }
      if (reduction.sentAll && !ended) {
        ended = true;
        outbound.end();
      }
    }

    inbound.on('data', (chunk: RingChunk) => {
      if (settled) return;
      try {
        reduction.accept(chunk);
      } catch (error) {
        return fail(error instanceof CollectiveError ? error : new CollectiveError('PROTOCOL_VIOLATION', String(error), context(pred, chunk.step)));
      }
      pump();
      succeed();
    });
    inbound.on('error', (error: ServiceError) => {
      if (settled || reduction.receivedAll) return;
      fail(collectiveErrorFromGrpc(error, context(pred, reduction.awaiting?.step), `receiving from predecessor rank ${pred.rank}`));
    });
    inbound.on('end', () => {
      if (settled || reduction.receivedAll) return;
      const awaiting = reduction.awaiting;
      fail(new CollectiveError('PROTOCOL_VIOLATION', `predecessor rank ${pred.rank} ended the stream before step ${awaiting?.step} bucket ${awaiting?.index}`, context(pred, awaiting?.step)));
    });

    taking.call.then(
      (call) => {
        if (failure) {
          // The successor's pull was handed over just as this call failed: tell it why.
          call.emit('error', statusFor(failure.code, failure.message));
          return;
        }
        outbound = call;
        call.on('finish', () => {
          outboundFinished = true;
          succeed();
        });
        call.on('cancelled', () => {
          if (!outboundFinished) fail(new CollectiveError('PEER_LEFT', `successor rank ${succ.rank} stopped receiving (it failed, closed its group or was killed; its own error says why)`, context(succ)));
        });
        call.on('error', (error: unknown) => {
          // The error status this rank sends itself when it fails comes back here; anything else is the stream breaking.
          if (!settled) fail(new CollectiveError('PEER_LEFT', `sending to successor rank ${succ.rank} failed: ${error instanceof Error ? error.message : String(error)}`, context(succ)));
        });
        if (call.request.op !== args.op) {
          return fail(new CollectiveError('CALL_MISMATCH', `this rank is in call "${args.op}" but successor rank ${succ.rank} is in "${call.request.op}"`, context(succ)));
        }
        if (call.request.elements !== buffer.length) {
          return fail(
            new CollectiveError('SIZE_MISMATCH', `this rank all-reduces ${buffer.length} elements but successor rank ${succ.rank} has ${call.request.elements}`, context(succ)),
          );
        }
        pump();
      },
      (error: unknown) => fail(error instanceof CollectiveError ? error : new CollectiveError('PROTOCOL_VIOLATION', String(error), context(succ))),
    );
  });
}
