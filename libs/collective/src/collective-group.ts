import { status } from '@grpc/grpc-js';
import { CollectiveError, type CollectiveOperation, type CollectivePeerRef } from './collective-error.js';
import type { HelloReply, HelloRequest } from './collective-protocol.js';
import { chunkHeaderLength } from './chunk-codec.js';
import { DataListener, InboundLink, type OutboundLink } from './data-link.js';
import { collectiveErrorFromGrpc, isServiceError } from './grpc-status.js';
import { collectiveGroupOptionsSchema, type CollectiveGroupOptions, type ResolvedGroupOptions } from './group-options.js';
import { PeerClient } from './peer-client.js';
import { PullMailbox, type PullCall } from './pull-mailbox.js';
import { RankServer, ServiceRefusal, type RankHandlers } from './rank-server.js';
import { runRingCall } from './ring-call.js';
import { runSocketRingCall } from './socket-ring-call.js';
import { planBroadcast, planRing, ringNeighbours, type RingPlan } from './ring-schedule.js';

const HELLO_RETRY_MS = 50;

export interface JoinOptions extends CollectiveGroupOptions {
  /**
   * A server already bound with RankServer.listen (to learn an ephemeral port before the peer list
   * is known). The group takes it over and shuts it down on close().
   */
  server?: RankServer;
}

/**
 * One rank's membership of a job's collective group: a ring of `worldSize` ranks that all-reduce
 * float32 buffers. Calls run one at a time in the order they are made (each gets the next sequence
 * number, the same on every rank), so callers may issue several without awaiting each. A failed
 * call breaks the group: every later call fails at once with GROUP_BROKEN, and the ranks must join
 * a new group (recovery resumes from a checkpoint).
 */
export class CollectiveGroup {
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private broken?: CollectiveError;
  /** Aborts the call in progress, if any (close() fails it with CLOSED). */
  private current?: AbortController;
  private readonly mailbox = new PullMailbox();
  private readonly plans = new Map<string, RingPlan>();
  private readonly predecessorHello: { promise: Promise<void>; resolve: () => void };
  /** Socket data plane: where the predecessor listens (learnt from its Hello), and both links. */
  private predecessorDataPort = 0;
  private listener?: DataListener;
  private inbound?: InboundLink;
  private outbound?: OutboundLink;

  private constructor(
    private readonly options: ResolvedGroupOptions,
    private readonly server: RankServer | undefined,
    private readonly predecessor: (CollectivePeerRef & { client: PeerClient }) | undefined,
    private readonly successor: (CollectivePeerRef & { client: PeerClient }) | undefined,
  ) {
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    this.predecessorHello = { promise, resolve };
  }

  get rank(): number {
    return this.options.rank;
  }

  get worldSize(): number {
    return this.options.worldSize;
  }

  get jobId(): string {
    return this.options.jobId;
  }

  /** The port this rank's server listens on (undefined for a group of one). */
  get port(): number | undefined {
    return this.server?.port;
  }

  /**
   * Starts this rank's server (or takes over `options.server`), then introduces itself to its ring
   * successor and waits for its predecessor to do the same, within `joinTimeoutMs`. Fails with
   * INVALID_ARGUMENT (bad options), PEER_UNREACHABLE (a neighbour never answered: the error names
   * it and its address), UNAUTHENTICATED or CONFIG_MISMATCH (a neighbour refused us).
   */
  static async join(input: JoinOptions): Promise<CollectiveGroup> {
    const { server: given, ...rest } = input;
    const parsed = collectiveGroupOptionsSchema.safeParse(rest);
    if (!parsed.success) {
      await given?.shutdown(0);
      const issue = parsed.error.issues[0]!;
      throw new CollectiveError('INVALID_ARGUMENT', `options.${issue.path.join('.')}: ${issue.message}`, { rank: typeof rest.rank === 'number' ? rest.rank : -1, operation: 'join' });
    }
    const options = parsed.data;
    if (options.worldSize === 1) return new CollectiveGroup(options, given, undefined, undefined);

    const { predecessor, successor } = ringNeighbours(options.rank, options.worldSize);
    const self = options.peers[options.rank]!;
    let server = given;
    if (!server) {
      try {
        server = await RankServer.listen({ host: options.bindHost, port: self.port });
      } catch (error) {
        throw new CollectiveError('INVALID_ARGUMENT', error instanceof Error ? error.message : String(error), { rank: options.rank, operation: 'join', cause: error });
      }
    }
    const maxChunkBytes = options.bucketBytes + chunkHeaderLength(options.bucketBytes) + 64;
    const client = (r: number) => {
      const peer = options.peers[r]!;
      const c = new PeerClient({ host: peer.host, port: peer.port, token: options.token, maxChunkBytes });
      return { rank: r, address: c.address, client: c };
    };
    const group = new CollectiveGroup(options, server, client(predecessor), client(successor));
    try {
      if (options.transport === 'socket') {
        group.listener = await DataListener.listen({
          // The data plane listens where the gRPC server does: a caller that bound its own server
          // (to learn its port first) and gave no bindHost must not get a listener on every interface.
          host: rest.bindHost ?? given?.host ?? options.bindHost,
          port: options.dataPort,
          jobId: options.jobId,
          rank: options.rank,
          successorRank: successor,
          token: options.token,
          successorAddress: group.successor!.address,
        });
      }
      server.attach(group.handlers(), { token: options.token, jobId: options.jobId, rank: options.rank });
      const deadline = Date.now() + options.joinTimeoutMs;
      await Promise.all([group.greetSuccessor(deadline), group.awaitPredecessor(deadline)]);
      if (group.listener) await group.openDataPlane(deadline);
    } catch (error) {
      await group.close();
      throw error;
    }
    return group;
  }

  /**
   * Replaces `buffer` with the element-wise mean over all ranks, in place, and resolves with the
   * same array. Every rank ends with bit-identical values (each segment is summed and divided on
   * one rank, and the others copy its bytes). Fails with SIZE_MISMATCH when ranks pass buffers of
   * different lengths, DEADLINE_EXCEEDED after `deadlineMs`, PEER_LEFT when a rank dies or leaves.
   * On failure the buffer's content is unspecified.
   */
  allReduceMean(buffer: Float32Array): Promise<Float32Array> {
    if (!(buffer instanceof Float32Array)) {
      return Promise.reject(new CollectiveError('INVALID_ARGUMENT', 'allReduceMean takes a Float32Array', { rank: this.rank, operation: 'allReduce' }));
    }
    return this.enqueue('allReduce', buffer, 'mean').then(() => buffer);
  }

  /**
   * Replaces `buffer` on every rank with rank `root`'s, in place (e.g. the initial weights, so
   * every replica starts identical), and resolves with the same array. Every rank must pass the
   * same root and a buffer of the same length (CALL_MISMATCH, SIZE_MISMATCH otherwise).
   */
  broadcast(buffer: Float32Array, root: number): Promise<Float32Array> {
    if (!(buffer instanceof Float32Array) || !Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      return Promise.reject(new CollectiveError('INVALID_ARGUMENT', `broadcast takes a Float32Array and a root rank in 0..${this.worldSize - 1} (got ${root})`, { rank: this.rank, operation: 'broadcast' }));
    }
    return this.enqueue('broadcast', buffer, `broadcast:${root}`).then(() => buffer);
  }

  /** Resolves once every rank has called barrier() (an all-reduce of one value, with the same deadline). */
  async barrier(): Promise<void> {
    await this.enqueue('barrier', new Float32Array(1), 'mean');
  }

  /**
   * Leaves the group: calls in progress or queued fail with CLOSED here, and the neighbours' calls
   * fail with PEER_LEFT. Idempotent.
   */
  async close(): Promise<void> {
    const closed = new CollectiveError('CLOSED', 'close() was called', { rank: this.rank, operation: 'allReduce' });
    this.broken ??= closed;
    this.current?.abort(closed);
    this.mailbox.fail(this.broken);
    // A join that failed on one side must not keep waiting (and keep the process alive) on the other.
    this.predecessorHello.resolve();
    this.predecessor?.client.close();
    this.successor?.client.close();
    // Gracefully: a neighbour may still be reading the last call's buckets this rank sent.
    this.inbound?.close();
    this.listener?.close();
    await this.server?.shutdown(200);
  }

  /** Connects to the predecessor's data listener and waits for the successor to connect to ours. */
  private async openDataPlane(deadline: number): Promise<void> {
    const pred = this.predecessor!;
    const host = this.options.peers[pred.rank]!.host;
    const [inbound, outbound] = await Promise.all([
      InboundLink.connect({ host, port: this.predecessorDataPort, jobId: this.options.jobId, rank: this.rank, token: this.options.token, peerRank: pred.rank, deadline }),
      this.listener!.successor(deadline),
    ]);
    this.inbound = inbound;
    this.outbound = outbound;
  }

  private enqueue(operation: CollectiveOperation, buffer: Float32Array, op: string): Promise<void> {
    const seq = ++this.seq;
    const run = async (): Promise<void> => {
      if (this.broken) {
        const cause = this.broken;
        throw new CollectiveError(cause.code === 'CLOSED' ? 'CLOSED' : 'GROUP_BROKEN', cause.code === 'CLOSED' ? 'the group is closed' : `an earlier call failed: ${cause.message}`, {
          rank: this.rank,
          operation,
          seq,
          cause,
        });
      }
      if (!this.predecessor || !this.successor) return; // a group of one: the mean is the buffer
      const controller = new AbortController();
      this.current = controller;
      try {
        const call = {
          operation,
          buffer,
          plan: this.plan(op, buffer.length),
          op,
          seq,
          deadline: Date.now() + this.options.deadlineMs,
          deadlineMs: this.options.deadlineMs,
          signal: controller.signal,
        };
        if (this.inbound && this.outbound) {
          await runSocketRingCall({
            ...call,
            inbound: this.inbound,
            outbound: this.outbound,
            predecessor: { rank: this.predecessor.rank, address: this.predecessor.address },
            successor: { rank: this.successor.rank, address: this.successor.address },
          });
        } else {
          await runRingCall({ ...call, jobId: this.options.jobId, predecessor: this.predecessor, successor: this.successor, mailbox: this.mailbox });
        }
      } catch (error) {
        const failure = error instanceof CollectiveError ? error : new CollectiveError('PROTOCOL_VIOLATION', String(error), { rank: this.rank, operation, seq, cause: error });
        this.broken ??= failure;
        this.mailbox.fail(failure);
        throw failure;
      } finally {
        if (this.current === controller) this.current = undefined;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private plan(op: string, elements: number): RingPlan {
    const key = `${op}/${elements}`;
    let plan = this.plans.get(key);
    if (!plan) {
      const bucket = this.options.bucketBytes / 4;
      plan = op === 'mean' ? planRing(this.rank, this.worldSize, elements, bucket) : planBroadcast(this.rank, this.worldSize, elements, bucket, Number(op.slice('broadcast:'.length)));
      if (this.plans.size > 64) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }

  private handlers(): RankHandlers {
    const o = this.options;
    const predecessor = this.predecessor!;
    return {
      hello: (request: HelloRequest): HelloReply => {
        const mismatch = [
          request.jobId !== o.jobId && `job "${request.jobId}" (this rank serves job "${o.jobId}")`,
          request.worldSize !== o.worldSize && `worldSize ${request.worldSize} (this rank has ${o.worldSize})`,
          request.bucketBytes !== o.bucketBytes && `bucketBytes ${request.bucketBytes} (this rank has ${o.bucketBytes})`,
          request.rank !== predecessor.rank && `rank ${request.rank} (this rank ${o.rank} expects its predecessor, rank ${predecessor.rank}: are two ranks started with the same RANK?)`,
          (request.dataPort > 0) !== (o.transport === 'socket') && `transport "${request.dataPort > 0 ? 'socket' : 'grpc'}" (this rank has "${o.transport}")`,
        ].filter((m): m is string => typeof m === 'string');
        if (mismatch.length > 0) throw new ServiceRefusal('CONFIG_MISMATCH', `rank ${o.rank} refused Hello: ${mismatch.join('; ')}`);
        this.predecessorDataPort = request.dataPort;
        this.predecessorHello.resolve();
        return { rank: o.rank };
      },
      pull: (call: PullCall) => {
        const r = call.request;
        if (r.jobId !== o.jobId) throw new ServiceRefusal('CONFIG_MISMATCH', `rank ${o.rank} serves job "${o.jobId}", not "${r.jobId}"`);
        if (r.rank !== this.successor!.rank) throw new ServiceRefusal('CONFIG_MISMATCH', `rank ${o.rank} sends to rank ${this.successor!.rank}, not rank ${r.rank}`);
        this.mailbox.offer(call);
      },
    };
  }

  private async greetSuccessor(deadline: number): Promise<void> {
    const succ = this.successor!;
    const o = this.options;
    const context = { rank: o.rank, operation: 'join' as const, peer: { rank: succ.rank, address: succ.address } };
    const request: HelloRequest = { jobId: o.jobId, rank: o.rank, worldSize: o.worldSize, bucketBytes: o.bucketBytes, dataPort: this.listener?.port ?? 0 };
    for (;;) {
      try {
        await succ.client.waitForReady(deadline);
      } catch {
        throw new CollectiveError('PEER_UNREACHABLE', `rank ${succ.rank} at ${succ.address} did not answer within the ${o.joinTimeoutMs} ms join timeout (not started, wrong address, or blocked)`, context);
      }
      try {
        await succ.client.hello(request, deadline);
        return;
      } catch (error) {
        if (this.broken) throw this.broken;
        // UNAVAILABLE: the peer is up but has not attached its group yet, or the connection dropped.
        if (!(isServiceError(error) && error.code === status.UNAVAILABLE) || Date.now() + HELLO_RETRY_MS >= deadline) {
          if (isServiceError(error) && error.code === status.DEADLINE_EXCEEDED) {
            throw new CollectiveError('PEER_UNREACHABLE', `rank ${succ.rank} at ${succ.address} did not answer within the ${o.joinTimeoutMs} ms join timeout`, context);
          }
          throw collectiveErrorFromGrpc(error, context, `introducing this rank to rank ${succ.rank}`);
        }
        await new Promise((r) => setTimeout(r, HELLO_RETRY_MS));
      }
    }
  }

  private awaitPredecessor(deadline: number): Promise<void> {
    const pred = this.predecessor!;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const refused = this.server?.lastRefusal ? `; the last call this rank refused: ${this.server.lastRefusal}` : '';
        reject(
          new CollectiveError('PEER_UNREACHABLE', `rank ${pred.rank} (${pred.address}) did not introduce itself within the ${this.options.joinTimeoutMs} ms join timeout (not started, or it cannot reach this rank)${refused}`, {
            rank: this.rank,
            operation: 'join',
            peer: { rank: pred.rank, address: pred.address },
          }),
        );
      }, Math.max(0, deadline - Date.now()));
      void this.predecessorHello.promise.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
