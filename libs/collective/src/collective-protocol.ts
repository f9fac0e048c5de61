import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { decodeChunk, framableChunk } from './chunk-codec.js';
import type { RingChunk } from './ring-reduction.js';

/**
 * The gRPC contract of proto/collective.proto, loaded from the .proto itself so the file stays the
 * single definition. Control messages go through protobufjs and are checked with one zod schema
 * each; `Chunk` uses the hand-written codec (chunk-codec.ts), which produces the same wire bytes.
 */
export const PROTO_PATH = fileURLToPath(new URL('../proto/collective.proto', import.meta.url));
export const SERVICE_NAME = 'medfusion.collective.v1.Collective';

const packageDefinition = loadSync(PROTO_PATH, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });

const u32 = z.number().int().min(0).max(0xffff_ffff);

export const helloRequestSchema = z.object({ jobId: z.string().min(1), rank: u32, worldSize: u32.min(1), bucketBytes: u32.min(4), dataPort: u32.max(65535) });
export type HelloRequest = z.infer<typeof helloRequestSchema>;
export const helloReplySchema = z.object({ rank: u32 });
export type HelloReply = z.infer<typeof helloReplySchema>;

export const pullRequestSchema = z.object({ jobId: z.string().min(1), rank: u32, seq: z.number().int().min(1), elements: z.number().int().min(0), op: z.string().min(1) });
export type PullRequest = z.infer<typeof pullRequestSchema>;

export const peerAddressSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });
export type PeerAddress = z.infer<typeof peerAddressSchema>;
export const registerRequestSchema = z.object({ jobId: z.string().min(1), rank: u32, worldSize: u32.min(1), host: z.string(), port: z.number().int().min(1).max(65535) });
export type RegisterRequest = z.infer<typeof registerRequestSchema>;
export const registerReplySchema = z.object({ peers: z.array(peerAddressSchema) });
export type RegisterReply = z.infer<typeof registerReplySchema>;

type Method<Req, Res> = MethodDefinition<Req, Res>;

function loadedMethod<Req, Res>(name: string): Method<Req, Res> {
  const service = packageDefinition[SERVICE_NAME] as unknown as Record<string, Method<Req, Res>> | undefined;
  const method = service?.[name];
  if (!method) throw new Error(`${PROTO_PATH} has no method ${SERVICE_NAME}.${name}`);
  return method;
}

export interface CollectiveMethods {
  Hello: Method<HelloRequest, HelloReply>;
  Pull: Method<PullRequest, RingChunk>;
  Register: Method<RegisterRequest, RegisterReply>;
}

const pull = loadedMethod<PullRequest, RingChunk>('Pull');

export const collectiveMethods: CollectiveMethods = {
  Hello: loadedMethod<HelloRequest, HelloReply>('Hello'),
  Pull: { ...pull, responseSerialize: framableChunk, responseDeserialize: decodeChunk },
  Register: loadedMethod<RegisterRequest, RegisterReply>('Register'),
};

export const collectiveService: ServiceDefinition = collectiveMethods as unknown as ServiceDefinition;

/** The .proto's own (protobufjs) Pull method, for tests that check the hand-written codec against it. */
export const protobufPullMethod = pull;
