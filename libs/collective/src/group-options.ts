import { z } from 'zod';
import { peerAddressSchema } from './collective-protocol.js';

export const DEFAULT_BUCKET_BYTES = 4 << 20;
export const DEFAULT_DEADLINE_MS = 30_000;
export const DEFAULT_JOIN_TIMEOUT_MS = 120_000;

/**
 * Settings of one rank of a collective group. `peers[r]` is the address rank r listens on and
 * other ranks reach it at (a pod IP and port); the rank binds `bindHost` on its own entry's port.
 */
export const collectiveGroupOptionsSchema = z
  .object({
    jobId: z.string().min(1).max(200),
    rank: z.number().int().min(0),
    worldSize: z.number().int().min(1).max(4096),
    peers: z.array(peerAddressSchema),
    /** Shared secret of the job; every call carries it. */
    token: z.string().min(16, 'the job token must have at least 16 characters'),
    /** Longest time one collective call (all-reduce, barrier) may take before it fails. */
    deadlineMs: z.number().int().min(1).max(3_600_000).default(DEFAULT_DEADLINE_MS),
    /** Longest time join() waits for its ring neighbours to start and answer. */
    joinTimeoutMs: z.number().int().min(1).max(3_600_000).default(DEFAULT_JOIN_TIMEOUT_MS),
    /** Largest message: each ring step's segment travels in buckets of at most this many bytes. */
    bucketBytes: z
      .number()
      .int()
      .min(4)
      .max(256 << 20)
      .refine((n) => n % 4 === 0, 'bucketBytes must be a multiple of 4 (float32 values)')
      .default(DEFAULT_BUCKET_BYTES),
    /**
     * Interface the rank's gRPC server and data listener bind; the server's port is peers[rank].port.
     * Left out with a `server` given to join(), the data listener binds that server's host.
     */
    bindHost: z.string().min(1).default('0.0.0.0'),
    /**
     * How buckets travel: `socket`, one plain TCP connection per neighbour pair (data-link.ts; the
     * default, about twice the bandwidth), or `grpc`, a server-streaming Pull per call. Every rank
     * must use the same (checked at join).
     */
    transport: z.enum(['socket', 'grpc']).default('socket'),
    /** Port of the socket data plane's listener (on bindHost); 0 picks a free one, told to the successor at join. */
    dataPort: z.number().int().min(0).max(65535).default(0),
  })
  .superRefine((o, ctx) => {
    if (o.rank >= o.worldSize) ctx.addIssue({ code: 'custom', path: ['rank'], message: `rank ${o.rank} is not below worldSize ${o.worldSize}` });
    if (o.worldSize > 1 && o.peers.length !== o.worldSize) {
      ctx.addIssue({ code: 'custom', path: ['peers'], message: `${o.peers.length} peer addresses for worldSize ${o.worldSize}: give one per rank, indexed by rank` });
    }
  });

export type CollectiveGroupOptions = z.input<typeof collectiveGroupOptionsSchema>;
export type ResolvedGroupOptions = z.output<typeof collectiveGroupOptionsSchema>;
