import { Client, credentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { collectiveMethods, type HelloReply, type HelloRequest, type PullRequest, type RegisterReply, type RegisterRequest } from './collective-protocol.js';
import type { RingChunk } from './ring-reduction.js';
import { tokenMetadata } from './token-auth.js';

export interface PeerClientOptions {
  host: string;
  port: number;
  token: string;
  /** Largest chunk message this rank accepts: the bucket size plus the chunk header. */
  maxChunkBytes: number;
}

/**
 * Calls to one peer rank. The receive window is raised well above HTTP/2's 64 KiB default: data
 * flows from the server (the ring predecessor) to this client, and a small window caps loopback
 * throughput at a few hundred MiB/s. Reconnect backoff is short so a rank that starts late is
 * found within a fraction of a second.
 */
export class PeerClient {
  readonly address: string;
  private readonly client: Client;

  constructor(private readonly options: PeerClientOptions) {
    this.address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
    this.client = new Client(this.address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': options.maxChunkBytes,
      'grpc.max_send_message_length': 1 << 20,
      'grpc-node.flow_control_window': Math.max(64 << 20, 4 * options.maxChunkBytes),
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.min_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // A separate connection per PeerClient: the predecessor's data stream does not share a
      // connection (and its flow-control window) with control calls to the same process.
      'grpc.use_local_subchannel_pool': 1,
      // A collective call is never retried behind the caller's back: a repeated Pull would ask
      // for a call's data twice. Failures surface as CollectiveErrors instead.
      'grpc.enable_retries': 0,
    });
  }

  /** Resolves once a connection is up, or fails at `deadline` (epoch ms). */
  waitForReady(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => this.client.waitForReady(new Date(deadline), (error) => (error ? reject(error) : resolve())));
  }

  hello(request: HelloRequest, deadline: number): Promise<HelloReply> {
    const m = collectiveMethods.Hello;
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, tokenMetadata(this.options.token), { deadline: new Date(deadline) }, (error: ServiceError | null, reply?: HelloReply) =>
        error || !reply ? reject(error ?? new Error('Hello returned no reply')) : resolve(reply),
      ),
    );
  }

  register(request: RegisterRequest, deadline: number): Promise<RegisterReply> {
    const m = collectiveMethods.Register;
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, tokenMetadata(this.options.token), { deadline: new Date(deadline) }, (error: ServiceError | null, reply?: RegisterReply) =>
        error || !reply ? reject(error ?? new Error('Register returned no reply')) : resolve(reply),
      ),
    );
  }

  /** Opens the stream of call `request.seq`'s chunks from this peer. */
  pull(request: PullRequest, deadline: number): ClientReadableStream<RingChunk> {
    const m = collectiveMethods.Pull;
    return this.client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, request, tokenMetadata(this.options.token), { deadline: new Date(deadline) });
  }

  close(): void {
    this.client.close();
  }
}
