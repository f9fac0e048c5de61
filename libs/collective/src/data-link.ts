import { createServer, connect, type Server, type Socket } from 'node:net';
import { CollectiveError, type CollectiveErrorCode } from './collective-error.js';
import { decodeHeader, encodeAbort, encodeBegin, encodeHello, FRAME_HEADER_BYTES, FRAME_KIND, MAX_JSON_FRAME_BYTES, type DataFrameHeader } from './data-frame.js';
import { TokenVerifier } from './token-auth.js';

/**
 * The socket data plane between two ring neighbours: one plain TCP connection per neighbour pair
 * for the group's lifetime, opened by the receiving rank (the successor) to its predecessor's
 * DataListener, like the gRPC Pull it replaces. gRPC stays the control plane (Hello, Register).
 * Why: grpc-js copies every message into a frame on send and concatenates its HTTP/2 pieces on
 * receive; here the sender writes views of the caller's buffer and the receiver reads each
 * payload straight into its destination (the caller's buffer for all-gather steps, one reused
 * staging array for reduce steps), so a byte costs the kernel's copies and, for reduce steps, the add.
 */

/** Stands for "no view handed out for the current state" (see setSink). */
const NOT_A_VIEW = new Uint8Array(0);
/** Most bytes one socket read may deliver into a payload. */
const MAX_READ_BYTES = 4 << 20;
const CONNECT_RETRY_MS = 50;

/** What the call in progress does with the frames its predecessor sends. */
export interface InboundSink {
  readonly seq: number;
  /** The call's buffer length and op, told to the predecessor when the call begins. */
  readonly elements: number;
  readonly op: string;
  /** Where the payload of `h` goes (length h.length), or an error that fails the call (the frame does not fit). */
  target(h: DataFrameHeader): Float32Array | CollectiveError;
  /** The payload of `h` is in `data` (the array `target` returned). */
  chunk(h: DataFrameHeader, data: Float32Array): void;
  /** The predecessor failed this call (its code and message), or the connection broke. */
  fail(error: CollectiveError): void;
}

type ParseState = 'header' | 'payload' | 'json' | 'parked';

/**
 * The receiving end: reads frames from the predecessor into their destinations. A frame of a
 * call this rank has not begun yet parks the connection (reading stops, TCP holds the sender
 * back) until that call's sink is set.
 */
export class InboundLink {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private readonly spare = Buffer.alloc(64);
  private state: ParseState = 'header';
  private fill = 0;
  private current?: DataFrameHeader;
  private payload?: Float32Array;
  private payloadBytes?: Uint8Array;
  private json?: Buffer;
  private jsonSeq = 0;
  private sink?: InboundSink;
  /** The view the last read was given, to tell in-place reads from reads into another buffer. */
  private lastView: Uint8Array = this.header;
  private acked = false;
  private ackWaiter?: { resolve: () => void; reject: (e: CollectiveError) => void };
  private broken?: CollectiveError;
  private staging = new Float32Array(0);

  private constructor(
    private socket: Socket | undefined,
    private readonly rank: number,
    private readonly peer: { rank: number; address: string },
  ) {}

  /**
   * Connects to the predecessor's listener and introduces this rank; resolves once the predecessor
   * accepted it (wrong token or job: UNAUTHENTICATED / CONFIG_MISMATCH from the predecessor).
   */
  static async connect(o: { host: string; port: number; jobId: string; rank: number; token: string; peerRank: number; deadline: number }): Promise<InboundLink> {
    const address = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
    const link = new InboundLink(undefined, o.rank, { rank: o.peerRank, address });
    for (;;) {
      try {
        await link.open(o.host, o.port, encodeHello({ jobId: o.jobId, rank: o.rank, token: o.token }), o.deadline);
        return link;
      } catch (error) {
        const refused = error instanceof CollectiveError && error.code !== 'PEER_UNREACHABLE';
        if (refused || Date.now() + CONNECT_RETRY_MS >= o.deadline) throw error;
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
      }
    }
  }

  private open(host: string, port: number, hello: Buffer, deadline: number): Promise<void> {
    this.state = 'header';
    this.fill = 0;
    this.acked = false;
    this.broken = undefined;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(this.error('PEER_UNREACHABLE', `predecessor rank ${this.peer.rank} did not accept the data connection at ${this.peer.address} in time`)), Math.max(0, deadline - Date.now()));
      const fail = (e: CollectiveError) => {
        clearTimeout(timer);
        this.ackWaiter = undefined;
        socket.destroy();
        reject(e);
      };
      this.ackWaiter = {
        resolve: () => {
          clearTimeout(timer);
          this.ackWaiter = undefined;
          resolve();
        },
        reject: fail,
      };
      const socket = connect({
        host,
        port,
        noDelay: true,
        onread: { buffer: () => this.nextView(), callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) },
      });
      this.socket = socket;
      socket.once('connect', () => socket.write(hello));
      // Events of an earlier attempt's socket (connect retries) must not touch this one's state.
      socket.on('error', (e: NodeJS.ErrnoException) => {
        if (this.socket !== socket) return;
        if (this.ackWaiter) return fail(this.error('PEER_UNREACHABLE', `cannot open the data connection to predecessor rank ${this.peer.rank} at ${this.peer.address}: ${e.message}`));
        this.lose(this.error('PEER_LEFT', `data connection from predecessor rank ${this.peer.rank} (${this.peer.address}) failed: ${e.message}`));
      });
      socket.on('close', () => {
        if (this.socket !== socket) return;
        if (this.ackWaiter) return fail(this.error('PEER_UNREACHABLE', `predecessor rank ${this.peer.rank} closed the data connection before accepting it`));
        this.lose(this.error('PEER_LEFT', `predecessor rank ${this.peer.rank} (${this.peer.address}) closed the data connection (it crashed, was killed or closed its group)`));
      });
    });
  }

  /** A reused array of at least `length` elements for reduce steps' payloads. */
  stagingArray(length: number): Float32Array {
    if (this.staging.length < length) this.staging = new Float32Array(length);
    return this.staging.subarray(0, length);
  }

  /** Sets (or clears) the call in progress; a parked frame of that call continues. */
  setSink(sink: InboundSink | undefined): void {
    this.sink = sink;
    if (!sink) return;
    if (this.broken) return sink.fail(this.broken);
    this.socket?.write(encodeBegin(sink.seq, sink.elements, sink.op));
    if (this.state === 'parked' && this.current) {
      if (this.current.seq !== sink.seq) return this.violation(`received data of call #${this.current.seq} while this rank runs call #${sink.seq}`);
      this.beginPayload(this.current);
      // Reading stopped with the spare buffer handed out for the next read: the bytes that read
      // brings must be copied into the payload, not taken as already in place.
      this.lastView = NOT_A_VIEW;
      this.socket?.resume();
    }
  }

  /** Tells the predecessor why this rank's call failed (best effort), then closes the connection. */
  abort(seq: number, code: CollectiveErrorCode, message: string): void {
    if (this.socket) endSocket(this.socket, ABORT_GRACE_MS, encodeAbort(seq, code, message));
  }

  destroy(): void {
    this.broken ??= this.error('CLOSED', 'the group is closed');
    this.socket?.destroy();
  }

  /** Leaves gracefully: a FIN after whatever is still queued, so nothing in flight is cut off. */
  close(): void {
    this.broken ??= this.error('CLOSED', 'the group is closed');
    if (this.socket) endSocket(this.socket, CLOSE_GRACE_MS);
  }

  private error(code: CollectiveErrorCode, message: string): CollectiveError {
    return new CollectiveError(code, message, { rank: this.rank, operation: 'allReduce', peer: this.peer, seq: this.sink?.seq });
  }

  private lose(error: CollectiveError): void {
    if (this.broken) return;
    this.broken = error;
    this.sink?.fail(error);
  }

  private violation(detail: string): void {
    const error = this.error('PROTOCOL_VIOLATION', `from predecessor rank ${this.peer.rank}: ${detail}`);
    this.lose(error);
    this.socket?.destroy();
  }

  /** The buffer the next read fills: the rest of the header, payload or JSON; never empty. */
  private nextView(): Uint8Array {
    let view: Uint8Array;
    if (this.state === 'header') view = this.header.subarray(this.fill);
    else if (this.state === 'payload') view = this.payloadBytes!.subarray(this.fill, Math.min(this.payloadBytes!.length, this.fill + MAX_READ_BYTES));
    else if (this.state === 'json') view = this.json!.subarray(this.fill);
    else view = this.spare;
    this.lastView = view;
    return view;
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    if (n <= 0) return true;
    // The generator's very object comes back when the read went where nextView() said.
    const inPlace = buf === this.lastView && this.state !== 'parked';
    if (inPlace) return this.advance(n);
    // The read landed elsewhere (the parked spare buffer, when reading resumed): copy it in.
    let rest = buf.subarray(0, n);
    while (rest.length > 0) {
      const view = this.nextView();
      if (this.state === 'parked') {
        this.violation('data arrived while the connection was parked');
        return false;
      }
      const take = Math.min(view.length, rest.length);
      view.set(rest.subarray(0, take));
      rest = rest.subarray(take);
      if (!this.advance(take)) {
        if (rest.length > 0) this.violation('data arrived while the connection was parked');
        return false;
      }
    }
    return true;
  }

  /** `n` more bytes are in place; returns false to stop reading (parked or broken). */
  private advance(n: number): boolean {
    this.fill += n;
    switch (this.state) {
      case 'header':
        if (this.fill < FRAME_HEADER_BYTES) return true;
        return this.onHeader();
      case 'payload':
        if (this.fill < this.payloadBytes!.length) return true;
        return this.onPayload();
      case 'json':
        if (this.fill < this.json!.length) return true;
        return this.onJson();
      case 'parked':
        return false;
    }
  }

  private onHeader(): boolean {
    this.fill = 0;
    const kind = this.header.readUInt32LE(0);
    if (kind === FRAME_KIND.ack) {
      if (this.acked) {
        this.violation('a second data connection acknowledgement');
        return false;
      }
      this.acked = true;
      this.ackWaiter?.resolve();
      return true;
    }
    const decoded = decodeHeader(this.header);
    if (decoded.kind === 'invalid' || decoded.kind === 'begin') {
      this.violation(decoded.kind === 'invalid' ? decoded.detail : 'a begin frame on the receiving side');
      return false;
    }
    if (decoded.kind === 'abort') {
      this.state = 'json';
      this.jsonSeq = decoded.seq;
      this.json = Buffer.alloc(decoded.byteLength);
      if (decoded.byteLength === 0) return this.onJson();
      return true;
    }
    if (!this.acked) {
      this.violation('data before the connection was accepted');
      return false;
    }
    const h = decoded.header;
    this.current = h;
    if (!this.sink || this.sink.seq !== h.seq) {
      if (this.sink && h.seq < this.sink.seq) {
        this.violation(`received data of call #${h.seq}, which is over, during call #${this.sink.seq}`);
        return false;
      }
      this.state = 'parked';
      return false;
    }
    return this.beginPayload(h);
  }

  private beginPayload(h: DataFrameHeader): boolean {
    const target = this.sink!.target(h);
    if (target instanceof CollectiveError) {
      this.sink!.fail(target);
      this.socket?.destroy();
      return false;
    }
    this.payload = target;
    this.payloadBytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
    this.fill = 0;
    if (target.length === 0) return this.onPayload();
    this.state = 'payload';
    return true;
  }

  private onPayload(): boolean {
    const h = this.current!;
    const data = this.payload!;
    this.state = 'header';
    this.fill = 0;
    this.current = undefined;
    this.payload = undefined;
    this.payloadBytes = undefined;
    this.sink?.chunk(h, data);
    return !this.broken;
  }

  private onJson(): boolean {
    const body = this.json!;
    this.state = 'header';
    this.fill = 0;
    this.json = undefined;
    const { code, message } = abortReason(body.toString('utf8'));
    const error = this.error(code, `predecessor rank ${this.peer.rank} aborted call #${this.jsonSeq}: ${message}`);
    if (this.ackWaiter) {
      this.ackWaiter.reject(error);
      return false;
    }
    this.lose(error);
    return false;
  }
}

/** The sending end: writes frames to the successor, which reads the abort frames it may send back. */
export class OutboundLink {
  private lostError?: CollectiveError;
  private onLost?: (error: CollectiveError) => void;
  private readonly headers: Buffer[] = [];
  /** Calls the successor has begun (seq -> its buffer size and op), until the matching call takes them. */
  private readonly begun = new Map<number, { elements: number; op: string }>();
  private beginWaiter?: { seq: number; cb: (begin: { elements: number; op: string }) => void };

  constructor(
    private readonly socket: Socket,
    private readonly rank: number,
    private readonly peer: { rank: number; address: string },
  ) {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      while (pending.length >= FRAME_HEADER_BYTES) {
        const decoded = decodeHeader(pending);
        if (decoded.kind !== 'abort' && decoded.kind !== 'begin') return this.lose(this.error('PROTOCOL_VIOLATION', `successor rank ${peer.rank} sent an unexpected frame on the data connection`));
        const end = FRAME_HEADER_BYTES + decoded.byteLength;
        if (pending.length < end) return;
        const body = pending.subarray(FRAME_HEADER_BYTES, end).toString('utf8');
        pending = pending.subarray(end);
        if (decoded.kind === 'begin') {
          this.onBegun({ seq: decoded.seq, elements: decoded.elements, op: body });
          continue;
        }
        const { code, message } = abortReason(body);
        return this.lose(this.error(code, `successor rank ${peer.rank} aborted call #${decoded.seq}: ${message}`));
      }
    });
    socket.on('error', (e) => this.lose(this.error('PEER_LEFT', `sending to successor rank ${peer.rank} failed: ${e.message}`)));
    socket.on('close', () => this.lose(this.error('PEER_LEFT', `successor rank ${peer.rank} (${peer.address}) closed the data connection (it crashed, was killed or closed its group)`)));
  }

  /** Calls `cb` once the successor has begun call `seq` (at once if it already has). */
  awaitBegin(seq: number, cb: (begin: { elements: number; op: string }) => void): void {
    const known = this.begun.get(seq);
    if (known) {
      this.begun.delete(seq);
      return cb(known);
    }
    this.beginWaiter = { seq, cb };
  }

  private onBegun(begin: { seq: number; elements: number; op: string }): void {
    if (this.beginWaiter?.seq === begin.seq) {
      const { cb } = this.beginWaiter;
      this.beginWaiter = undefined;
      return cb(begin);
    }
    this.begun.set(begin.seq, begin);
  }

  /** Called once if the successor aborts or the connection breaks. */
  watch(onLost: ((error: CollectiveError) => void) | undefined): void {
    this.onLost = onLost;
    if (onLost && this.lostError) onLost(this.lostError);
  }

  get lost(): CollectiveError | undefined {
    return this.lostError;
  }

  /**
   * Queues one frame: its header and a view of the caller's values (not copied: the caller keeps
   * them unchanged until `done` runs). Returns false when the socket's buffer is full (wait for `drain`).
   */
  send(header: Buffer, data: Float32Array, done: (error?: Error | null) => void): boolean {
    this.socket.cork();
    this.socket.write(header);
    const ok = data.length ? this.socket.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), done) : this.socket.write(Buffer.alloc(0), done);
    this.socket.uncork();
    return ok;
  }

  /** A header buffer to encode into (returned by `recycle` once written). */
  headerBuffer(): Buffer {
    return this.headers.pop() ?? Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  }

  recycle(header: Buffer): void {
    if (this.headers.length < 64) this.headers.push(header);
  }

  onceDrain(listener: () => void): void {
    this.socket.once('drain', listener);
  }

  abort(seq: number, code: CollectiveErrorCode, message: string): void {
    endSocket(this.socket, ABORT_GRACE_MS, encodeAbort(seq, code, message));
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Leaves gracefully: the buckets already queued still reach the successor (it may still be
   * finishing the last call when this rank is done with it), then a FIN.
   */
  close(): void {
    endSocket(this.socket, CLOSE_GRACE_MS);
  }

  private error(code: CollectiveErrorCode, message: string): CollectiveError {
    return new CollectiveError(code, message, { rank: this.rank, operation: 'allReduce', peer: this.peer });
  }

  private lose(error: CollectiveError): void {
    if (this.lostError) return;
    this.lostError = error;
    this.onLost?.(error);
  }
}

/** How long a new data connection may take to send a valid greeting before it is dropped. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * How many connections may be waiting for their greeting at once. Only one successor ever
 * connects (plus its retries), so a handful covers every honest case.
 */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 8;

/**
 * The predecessor's side: listens for its successor's data connection and accepts it once its
 * greeting names this job, the successor's rank and the job's token. A connection that has not
 * sent a valid greeting within `handshakeTimeoutMs` is dropped, and at most `maxPending` may be
 * waiting at once: past that the oldest waiting one is dropped, so idle or half-sent greetings
 * can neither pile up nor keep the real successor (whose greeting follows its connect at once) out.
 */
export class DataListener {
  private accepted?: OutboundLink;
  private waiter?: { resolve: (link: OutboundLink) => void; reject: (e: CollectiveError) => void };
  /** Connections still owing their greeting, oldest first, each with its timeout. */
  private readonly pending = new Map<Socket, NodeJS.Timeout>();
  /** Why the last connection was refused, for join errors. */
  lastRefusal?: string;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly expect: { jobId: string; rank: number; successorRank: number; verifier: TokenVerifier; successorAddress: string },
    private readonly limits: { handshakeTimeoutMs: number; maxPending: number },
  ) {}

  static async listen(o: {
    host: string;
    port: number;
    jobId: string;
    rank: number;
    successorRank: number;
    token: string;
    successorAddress: string;
    handshakeTimeoutMs?: number;
    maxPending?: number;
  }): Promise<DataListener> {
    let self: DataListener | undefined;
    const server = createServer({ noDelay: true }, (socket) => {
      if (self) self.onConnection(socket);
      else socket.destroy(); // connected in the instant between listen() and the constructor: the successor retries
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new CollectiveError('INVALID_ARGUMENT', `the data listener cannot bind ${o.host}:${o.port}: ${e.message}`, { rank: o.rank, operation: 'join' })));
      server.listen(o.port, o.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : o.port;
    self = new DataListener(
      server,
      port,
      { jobId: o.jobId, rank: o.rank, successorRank: o.successorRank, verifier: new TokenVerifier(o.token), successorAddress: o.successorAddress },
      { handshakeTimeoutMs: o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, maxPending: Math.max(1, o.maxPending ?? DEFAULT_MAX_PENDING_CONNECTIONS) },
    );
    return self;
  }

  /** Connections that have not sent their greeting yet (for tests and diagnostics). */
  get pendingConnections(): number {
    return this.pending.size;
  }

  /** Resolves with the successor's accepted connection, or fails at `deadline`. */
  successor(deadline: number): Promise<OutboundLink> {
    if (this.accepted) return Promise.resolve(this.accepted);
    return new Promise<OutboundLink>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        const refused = this.lastRefusal ? `; refused: ${this.lastRefusal}` : '';
        reject(
          new CollectiveError('PEER_UNREACHABLE', `successor rank ${this.expect.successorRank} did not open its data connection within the join timeout${refused}`, {
            rank: this.expect.rank,
            operation: 'join',
            peer: { rank: this.expect.successorRank, address: this.expect.successorAddress },
          }),
        );
      }, Math.max(0, deadline - Date.now()));
      this.waiter = {
        resolve: (link) => {
          clearTimeout(timer);
          resolve(link);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  close(): void {
    this.server.close();
    for (const [socket, timer] of this.pending) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.pending.clear();
    this.accepted?.close();
  }

  private onConnection(socket: Socket): void {
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.pending.size >= this.limits.maxPending) {
      const [oldest] = this.pending.keys();
      this.settle(oldest!);
      oldest!.destroy();
      this.lastRefusal = `dropped a data connection that had not sent its greeting: more than ${this.limits.maxPending} were waiting at once (from ${oldest!.remoteAddress}:${oldest!.remotePort})`;
    }
    const timer = setTimeout(() => {
      this.settle(socket);
      this.lastRefusal = `no greeting within ${this.limits.handshakeTimeoutMs} ms (from ${from})`;
      socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    timer.unref();
    this.pending.set(socket, timer);
    socket.once('close', () => this.settle(socket));

    let got = Buffer.alloc(0);
    const refuse = (code: CollectiveErrorCode, reason: string) => {
      this.settle(socket);
      socket.off('data', onData);
      this.lastRefusal = `${reason} (from ${from})`;
      endSocket(socket, ABORT_GRACE_MS, encodeAbort(0, code, reason));
    };
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 8) return;
      if (got.readUInt32LE(0) !== FRAME_KIND.hello) return refuse('PROTOCOL_VIOLATION', 'the data connection did not start with a greeting');
      const length = got.readUInt32LE(4);
      if (length > MAX_JSON_FRAME_BYTES) return refuse('PROTOCOL_VIOLATION', `a greeting of ${length} bytes`);
      if (got.length < 8 + length) return;
      socket.off('data', onData);
      let hello: { jobId?: unknown; rank?: unknown; token?: unknown } = {};
      try {
        hello = JSON.parse(got.subarray(8, 8 + length).toString('utf8')) as typeof hello;
      } catch {
        return refuse('PROTOCOL_VIOLATION', 'the greeting is not JSON');
      }
      if (typeof hello.token !== 'string' || !this.expect.verifier.verify(hello.token)) return refuse('UNAUTHENTICATED', `rank ${this.expect.rank} of job ${this.expect.jobId} refused a data connection: the token does not match this job`);
      if (hello.jobId !== this.expect.jobId) return refuse('CONFIG_MISMATCH', `rank ${this.expect.rank} serves job "${this.expect.jobId}", not "${String(hello.jobId)}"`);
      if (hello.rank !== this.expect.successorRank) return refuse('CONFIG_MISMATCH', `rank ${this.expect.rank} sends to rank ${this.expect.successorRank}, not rank ${String(hello.rank)}`);
      if (this.accepted && !this.accepted.lost) return refuse('CONFIG_MISMATCH', `rank ${this.expect.rank} already has a data connection from rank ${this.expect.successorRank}`);
      this.settle(socket);
      const ack = Buffer.alloc(FRAME_HEADER_BYTES);
      ack.writeUInt32LE(FRAME_KIND.ack, 0);
      socket.write(ack);
      const link = new OutboundLink(socket, this.expect.rank, { rank: this.expect.successorRank, address: from });
      this.accepted = link;
      this.waiter?.resolve(link);
      this.waiter = undefined;
    };
    socket.on('data', onData);
    // Until accepted, a connection's failure concerns nobody but the join error that may quote it;
    // afterwards OutboundLink's own listener turns it into PEER_LEFT.
    socket.on('error', (e) => {
      if (this.pending.has(socket)) this.lastRefusal = `a data connection failed before its greeting: ${e.message} (from ${from})`;
    });
  }

  /** The connection no longer owes a greeting (accepted, refused, timed out or gone). */
  private settle(socket: Socket): void {
    const timer = this.pending.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.pending.delete(socket);
  }
}

/** How long an abort frame, and the last buckets of a graceful close, get to leave before the socket is destroyed. */
const ABORT_GRACE_MS = 200;
const CLOSE_GRACE_MS = 1000;

/** Ends the connection after `lastFrame` (if any) and whatever is queued; destroys it after `graceMs` regardless. */
function endSocket(socket: Socket, graceMs: number, lastFrame?: Buffer): void {
  if (socket.destroyed) return;
  if (lastFrame) socket.end(lastFrame);
  else socket.end();
  setTimeout(() => socket.destroy(), graceMs).unref();
}

/**
 * The code and message of an abort frame's JSON body. A garbled body still aborts (PEER_LEFT), and
 * a neighbour that closed its group (CLOSED) has left, as far as this rank is concerned.
 */
function abortReason(body: string): { code: CollectiveErrorCode; message: string } {
  let parsed: { code?: unknown; message?: unknown } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // Garbled: the defaults below.
  }
  const code = typeof parsed.code !== 'string' || parsed.code === 'CLOSED' ? 'PEER_LEFT' : (parsed.code as CollectiveErrorCode);
  return { code, message: typeof parsed.message === 'string' ? parsed.message : 'no reason given' };
}
