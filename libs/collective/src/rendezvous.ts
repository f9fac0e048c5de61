import { status } from '@grpc/grpc-js';
import { CollectiveError } from './collective-error.js';
import { registerReplySchema, type PeerAddress, type RegisterReply, type RegisterRequest } from './collective-protocol.js';
import { collectiveErrorFromGrpc, isServiceError } from './grpc-status.js';
import { PeerClient } from './peer-client.js';
import { ServiceRefusal, type RankServer, type RegisterHandler } from './rank-server.js';

const RETRY_MS = 100;

export interface RendezvousOptions {
  jobId: string;
  token: string;
  rank: number;
  worldSize: number;
  /** MASTER_ADDR and MASTER_PORT: rank 0's server, which must be listening on that port. */
  master: PeerAddress;
  /** This rank's bound server; its port is what the rank advertises. */
  server: RankServer;
  /** Host other ranks reach this rank at (a pod IP); empty or absent: the address the master sees the call come from. */
  advertiseHost?: string;
  timeoutMs: number;
}

/** "127.0.0.1:5000", "[::1]:5000" or "::ffff:10.0.0.7:5000" (grpc-js getPeer) to a host. */
export function hostOfPeer(peer: string): string {
  const host = peer.slice(0, peer.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host.startsWith('::ffff:') ? host.slice(7) : host;
}

/**
 * Rank 0's registry: collects each rank's address and answers every Register call with the full
 * list once all `worldSize` ranks are in. Two processes claiming one rank is a CONFIG_MISMATCH.
 */
export class RendezvousRegistrar implements RegisterHandler {
  private readonly peers: (PeerAddress | undefined)[];
  private readonly done: Promise<PeerAddress[]>;
  private finish: (peers: PeerAddress[]) => void = () => {};

  constructor(
    private readonly jobId: string,
    private readonly worldSize: number,
    self: PeerAddress,
  ) {
    this.peers = Array.from({ length: worldSize }, (_, r) => (r === 0 ? self : undefined));
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.settleIfComplete();
  }

  missingRanks(): number[] {
    return this.peers.flatMap((p, r) => (p ? [] : [r]));
  }

  complete(): Promise<PeerAddress[]> {
    return this.done;
  }

  async register(request: RegisterRequest, peer: string): Promise<RegisterReply> {
    if (request.jobId !== this.jobId) throw new ServiceRefusal('CONFIG_MISMATCH', `the master serves job "${this.jobId}", not "${request.jobId}"`);
    if (request.worldSize !== this.worldSize) throw new ServiceRefusal('CONFIG_MISMATCH', `WORLD_SIZE ${request.worldSize} at rank ${request.rank}, the master has ${this.worldSize}`);
    if (request.rank === 0 || request.rank >= this.worldSize) {
      throw new ServiceRefusal('CONFIG_MISMATCH', `rank ${request.rank} cannot register: ranks 1..${this.worldSize - 1} register at the master, which is rank 0 (two processes with RANK=0?)`);
    }
    const address = { host: request.host || hostOfPeer(peer), port: request.port };
    const known = this.peers[request.rank];
    if (known && (known.host !== address.host || known.port !== address.port)) {
      throw new ServiceRefusal('CONFIG_MISMATCH', `rank ${request.rank} is already registered at ${known.host}:${known.port}, now also at ${address.host}:${address.port}: two processes with RANK=${request.rank}?`);
    }
    this.peers[request.rank] = address;
    this.settleIfComplete();
    return { peers: await this.done };
  }

  private settleIfComplete(): void {
    if (this.peers.every((p) => p !== undefined)) this.finish(this.peers as PeerAddress[]);
  }
}

/**
 * Learns every rank's address through the master, the way training operators set ranks up with
 * MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK. Rank 0 serves the registry on its own server and
 * waits for everyone; the other ranks register (retrying until the master is up) and get the list.
 */
export async function rendezvous(o: RendezvousOptions): Promise<PeerAddress[]> {
  const deadline = Date.now() + o.timeoutMs;
  const masterAddress = `${o.master.host}:${o.master.port}`;
  const context = { rank: o.rank, operation: 'register' as const, peer: { rank: 0, address: masterAddress } };
  if (o.rank === 0) {
    const registrar = new RendezvousRegistrar(o.jobId, o.worldSize, { host: o.advertiseHost || o.master.host, port: o.server.port });
    o.server.attachRegistrar(registrar, { token: o.token, jobId: o.jobId, rank: 0 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new CollectiveError('PEER_UNREACHABLE', `rank(s) ${registrar.missingRanks().join(', ')} did not register at the master within ${o.timeoutMs} ms (not started, or they cannot reach ${masterAddress})`, { rank: 0, operation: 'register' })),
        o.timeoutMs,
      );
    });
    try {
      return await Promise.race([registrar.complete(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  const client = new PeerClient({ host: o.master.host, port: o.master.port, token: o.token, maxChunkBytes: 1 << 20 });
  const request: RegisterRequest = { jobId: o.jobId, rank: o.rank, worldSize: o.worldSize, host: o.advertiseHost ?? '', port: o.server.port };
  try {
    for (;;) {
      try {
        await client.waitForReady(deadline);
      } catch {
        throw new CollectiveError('PEER_UNREACHABLE', `the master at ${masterAddress} (MASTER_ADDR:MASTER_PORT) did not answer within ${o.timeoutMs} ms`, context);
      }
      try {
        const reply = registerReplySchema.parse(await client.register(request, deadline));
        if (reply.peers.length !== o.worldSize) throw new CollectiveError('PROTOCOL_VIOLATION', `the master listed ${reply.peers.length} ranks for WORLD_SIZE ${o.worldSize}`, context);
        return reply.peers;
      } catch (error) {
        if (error instanceof CollectiveError) throw error;
        if (isServiceError(error) && error.code === status.UNAVAILABLE && Date.now() + RETRY_MS < deadline) {
          await new Promise((r) => setTimeout(r, RETRY_MS));
          continue;
        }
        if (isServiceError(error) && error.code === status.DEADLINE_EXCEEDED) {
          throw new CollectiveError('PEER_UNREACHABLE', `the master did not gather all ${o.worldSize} ranks within ${o.timeoutMs} ms (some rank did not start or cannot reach ${masterAddress})`, { ...context, cause: error });
        }
        throw collectiveErrorFromGrpc(error, context, 'registering at the master');
      }
    }
  } finally {
    client.close();
  }
}
