import { Server, ServerCredentials, status, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import type { z } from 'zod';
import type { CollectiveErrorCode } from './collective-error.js';
import {
  collectiveService,
  helloRequestSchema,
  pullRequestSchema,
  registerRequestSchema,
  type HelloReply,
  type HelloRequest,
  type PullRequest,
  type RegisterReply,
  type RegisterRequest,
} from './collective-protocol.js';
import { statusFor } from './grpc-status.js';
import type { PullCall } from './pull-mailbox.js';
import type { RingChunk } from './ring-reduction.js';
import { TokenVerifier } from './token-auth.js';

/** A request a rank refuses, with the collective code the caller will see. */
export class ServiceRefusal extends Error {
  constructor(
    readonly code: CollectiveErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a joined rank does with each call; RankServer has checked the token and the message shape. */
export interface RankHandlers {
  hello(request: HelloRequest, peer: string): HelloReply;
  pull(call: PullCall): void;
}

/** What the rendezvous master (rank 0) does with Register calls; lives beside the group's handlers. */
export interface RegisterHandler {
  register(request: RegisterRequest, peer: string): Promise<RegisterReply>;
}

/**
 * A rank's gRPC server. It is bound before the rank joins (so a scheduler can learn an ephemeral
 * port) and serves nothing but "not ready" until a group attaches its handlers and token. Every
 * call must carry the job token; a wrong or missing one is UNAUTHENTICATED and is remembered, so a
 * rank waiting for a peer that keeps failing to authenticate can say so.
 */
export class RankServer {
  private handlers?: RankHandlers;
  private registrar?: RegisterHandler;
  private verifier?: TokenVerifier;
  private jobId = '';
  private rank = -1;
  /** The last call this server refused, with who sent it and why. */
  lastRefusal?: string;

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Binds host:port (port 0 picks a free one) and starts serving. */
  static async listen(options: { host: string; port: number }): Promise<RankServer> {
    const server = new Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': 1 << 20 });
    let self: RankServer | undefined;
    server.addService(collectiveService, {
      Hello: (call: ServerUnaryCall<HelloRequest, HelloReply>, callback: sendUnaryData<HelloReply>) => self!.onHello(call, callback),
      Pull: (call: ServerWritableStream<PullRequest, RingChunk>) => self!.onPull(call),
      Register: (call: ServerUnaryCall<RegisterRequest, RegisterReply>, callback: sendUnaryData<RegisterReply>) => self!.onRegister(call, callback),
    });
    const target = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(target, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(new Error(`collective server cannot listen on ${target}: ${error.message}`, { cause: error })) : resolve(bound),
      ),
    );
    self = new RankServer(server, options.host, port);
    return self;
  }

  attach(handlers: RankHandlers, auth: { token: string; jobId: string; rank: number }): void {
    this.handlers = handlers;
    this.authenticate(auth);
  }

  /** Serves Register calls (rank 0 at MASTER_ADDR:MASTER_PORT), before and after the group joins. */
  attachRegistrar(registrar: RegisterHandler, auth: { token: string; jobId: string; rank: number }): void {
    this.registrar = registrar;
    this.authenticate(auth);
  }

  private authenticate(auth: { token: string; jobId: string; rank: number }): void {
    this.verifier = new TokenVerifier(auth.token);
    this.jobId = auth.jobId;
    this.rank = auth.rank;
  }

  /** Stops serving; calls still open are cancelled after `graceMs`. */
  async shutdown(graceMs = 1000): Promise<void> {
    this.handlers = undefined;
    this.registrar = undefined;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** Closes every connection at once, as a crash would (for tests and fatal errors). */
  forceShutdown(): void {
    this.handlers = undefined;
    this.registrar = undefined;
    this.server.forceShutdown();
  }

  private admit<T extends z.ZodType, H>(handlers: H | undefined, metadata: Metadata, peer: string, request: unknown, schema: T, method: string): { ok: true; value: z.infer<T>; handlers: H } | { ok: false; status: ReturnType<typeof statusFor> | { code: status; details: string } } {
    const verifier = this.verifier;
    if (!handlers || !verifier) return { ok: false, status: { code: status.UNAVAILABLE, details: `this rank is not ready for ${method} yet` } };
    const token = verifier.check(metadata);
    if (token !== 'ok') {
      const details = `rank ${this.rank} of job ${this.jobId} refused ${method} from ${peer}: ${token === 'missing' ? 'no collective-token header' : 'the token does not match this job'}`;
      this.lastRefusal = details;
      return { ok: false, status: statusFor('UNAUTHENTICATED', details) };
    }
    const parsed = schema.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const details = `rank ${this.rank} refused ${method} from ${peer}: field ${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'invalid'}`;
      this.lastRefusal = details;
      return { ok: false, status: statusFor('PROTOCOL_VIOLATION', details) };
    }
    return { ok: true, value: parsed.data, handlers };
  }

  private refusal(error: unknown, peer: string): ReturnType<typeof statusFor> {
    if (error instanceof ServiceRefusal) {
      this.lastRefusal = `${error.message} (from ${peer})`;
      return statusFor(error.code, error.message);
    }
    return statusFor('PROTOCOL_VIOLATION', `rank ${this.rank} failed to serve a call: ${error instanceof Error ? error.message : String(error)}`);
  }

  private onHello(call: ServerUnaryCall<HelloRequest, HelloReply>, callback: sendUnaryData<HelloReply>): void {
    const admitted = this.admit(this.handlers, call.metadata, call.getPeer(), call.request, helloRequestSchema, 'Hello');
    if (!admitted.ok) return callback(admitted.status);
    try {
      callback(null, admitted.handlers.hello(admitted.value, call.getPeer()));
    } catch (error) {
      callback(this.refusal(error, call.getPeer()));
    }
  }

  private onPull(call: ServerWritableStream<PullRequest, RingChunk>): void {
    const admitted = this.admit(this.handlers, call.metadata, call.getPeer(), call.request, pullRequestSchema, 'Pull');
    if (!admitted.ok) {
      call.emit('error', admitted.status);
      return;
    }
    try {
      admitted.handlers.pull(call);
    } catch (error) {
      call.emit('error', this.refusal(error, call.getPeer()));
    }
  }

  private onRegister(call: ServerUnaryCall<RegisterRequest, RegisterReply>, callback: sendUnaryData<RegisterReply>): void {
    const admitted = this.admit(this.registrar, call.metadata, call.getPeer(), call.request, registerRequestSchema, 'Register');
    if (!admitted.ok) return callback(admitted.status);
    admitted.handlers.register(admitted.value, call.getPeer()).then(
      (reply) => callback(null, reply),
      (error: unknown) => callback(this.refusal(error, call.getPeer())),
    );
  }
}
