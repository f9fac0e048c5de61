import { z } from 'zod';
import { CollectiveError } from './collective-error.js';
import { CollectiveGroup } from './collective-group.js';
import type { PeerAddress } from './collective-protocol.js';
import { DEFAULT_JOIN_TIMEOUT_MS } from './group-options.js';
import { RankServer } from './rank-server.js';
import { rendezvous } from './rendezvous.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

function parsePeers(value: string, ctx: z.RefinementCtx): PeerAddress[] {
  return value.split(',').map((entry, i) => {
    const at = entry.trim().lastIndexOf(':');
    const host = entry.trim().slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(entry.trim().slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `entry ${i} "${entry}" is not host:port` });
    }
    return { host, port };
  });
}

/**
 * The environment a rank process reads: the names training operators use (RANK, WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT) and the collective's own settings. COLLECTIVE_PEERS, when set, lists
 * every rank's host:port by rank and skips the rendezvous (the scheduler already knows them).
 */
export const collectiveEnvSchema = z
  .object({
    RANK: int(0, 4095),
    WORLD_SIZE: int(1, 4096),
    MASTER_ADDR: z.string().min(1).optional(),
    MASTER_PORT: int(1, 65535).optional(),
    COLLECTIVE_JOB_ID: z.string().min(1),
    COLLECTIVE_TOKEN: z.string().min(16, 'must have at least 16 characters'),
    COLLECTIVE_PEERS: z.string().min(1).transform(parsePeers).optional(),
    /** Host other ranks reach this one at (a pod IP); default: what the master sees. */
    COLLECTIVE_ADVERTISE_HOST: z.string().min(1).optional(),
    /** Port of a non-master rank's server; 0 picks a free one (advertised through the master). */
    COLLECTIVE_PORT: int(0, 65535).default(0),
    COLLECTIVE_BIND_HOST: z.string().min(1).default('0.0.0.0'),
    /** Port of the rank's all-reduce data connection listener; 0 picks a free one (told to the successor at join). */
    COLLECTIVE_DATA_PORT: int(0, 65535).default(0),
    COLLECTIVE_DEADLINE_MS: int(1, 3_600_000).optional(),
    COLLECTIVE_JOIN_TIMEOUT_MS: int(1, 3_600_000).optional(),
    COLLECTIVE_BUCKET_BYTES: int(4, 256 << 20).optional(),
  })
  .superRefine((e, ctx) => {
    if (e.RANK >= e.WORLD_SIZE) ctx.addIssue({ code: 'custom', path: ['RANK'], message: `must be below WORLD_SIZE (${e.WORLD_SIZE})` });
    if (e.WORLD_SIZE > 1 && !e.COLLECTIVE_PEERS && (!e.MASTER_ADDR || e.MASTER_PORT === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['MASTER_ADDR'], message: 'set MASTER_ADDR and MASTER_PORT (rank 0 listens there), or COLLECTIVE_PEERS' });
    }
    if (e.COLLECTIVE_PEERS && e.COLLECTIVE_PEERS.length !== e.WORLD_SIZE) {
      ctx.addIssue({ code: 'custom', path: ['COLLECTIVE_PEERS'], message: `lists ${e.COLLECTIVE_PEERS.length} addresses for WORLD_SIZE ${e.WORLD_SIZE}` });
    }
  });

export type CollectiveEnv = z.output<typeof collectiveEnvSchema>;

export function parseCollectiveEnv(env: Record<string, string | undefined>): CollectiveEnv {
  const parsed = collectiveEnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const rank = Number(env.RANK);
  throw new CollectiveError('INVALID_ARGUMENT', `environment variable ${String(issue.path[0] ?? '')}: ${issue.message}`, { rank: Number.isInteger(rank) ? rank : -1, operation: 'join' });
}

/**
 * Joins the job's group as configured by the environment: rank 0 listens on MASTER_PORT and gathers
 * the others' addresses, the others listen on COLLECTIVE_PORT and register with it; or, with
 * COLLECTIVE_PEERS, each rank listens on its own entry's port.
 */
export async function joinFromEnv(env: Record<string, string | undefined> = process.env): Promise<CollectiveGroup> {
  const e = parseCollectiveEnv(env);
  const common = {
    jobId: e.COLLECTIVE_JOB_ID,
    rank: e.RANK,
    worldSize: e.WORLD_SIZE,
    token: e.COLLECTIVE_TOKEN,
    bindHost: e.COLLECTIVE_BIND_HOST,
    deadlineMs: e.COLLECTIVE_DEADLINE_MS,
    joinTimeoutMs: e.COLLECTIVE_JOIN_TIMEOUT_MS,
    bucketBytes: e.COLLECTIVE_BUCKET_BYTES,
    dataPort: e.COLLECTIVE_DATA_PORT,
  };
  if (e.WORLD_SIZE === 1) return CollectiveGroup.join({ ...common, peers: [] });
  if (e.COLLECTIVE_PEERS) return CollectiveGroup.join({ ...common, peers: e.COLLECTIVE_PEERS });
  const master = { host: e.MASTER_ADDR!, port: e.MASTER_PORT! };
  let server: RankServer;
  try {
    server = await RankServer.listen({ host: e.COLLECTIVE_BIND_HOST, port: e.RANK === 0 ? master.port : e.COLLECTIVE_PORT });
  } catch (error) {
    throw new CollectiveError('INVALID_ARGUMENT', error instanceof Error ? error.message : String(error), { rank: e.RANK, operation: 'join', cause: error });
  }
  try {
    const peers = await rendezvous({
      jobId: e.COLLECTIVE_JOB_ID,
      token: e.COLLECTIVE_TOKEN,
      rank: e.RANK,
      worldSize: e.WORLD_SIZE,
      master,
      server,
      advertiseHost: e.COLLECTIVE_ADVERTISE_HOST,
      timeoutMs: e.COLLECTIVE_JOIN_TIMEOUT_MS ?? DEFAULT_JOIN_TIMEOUT_MS,
    });
    return await CollectiveGroup.join({ ...common, peers, server });
  } catch (error) {
    await server.shutdown(0);
    throw error;
  }
}
