import { connect, type Socket } from 'node:net';
import { CollectiveError, CollectiveGroup, RankServer } from '@medfusion/collective';
import { DataListener, InboundLink } from '../src/data-link.js';
import { freePort } from './free-port.js';

/** The socket data plane's handshake: only the job's successor rank with the job's token gets a connection. */
describe('data connection handshake', () => {
  const TOKEN = 'data-plane-token-0123456789';
  let listener: DataListener;

  beforeEach(async () => {
    listener = await DataListener.listen({ host: '127.0.0.1', port: 0, jobId: 'job-1', rank: 0, successorRank: 1, token: TOKEN, successorAddress: '127.0.0.1:1' });
  });
  afterEach(() => listener.close());

  const connect = (o: { token?: string; rank?: number; jobId?: string }) =>
    InboundLink.connect({ host: '127.0.0.1', port: listener.port, jobId: o.jobId ?? 'job-1', rank: o.rank ?? 1, token: o.token ?? TOKEN, peerRank: 0, deadline: Date.now() + 3000 });

  it('refuses a wrong token with UNAUTHENTICATED, a wrong job or rank with CONFIG_MISMATCH, and says so on its side', async () => {
    await expect(connect({ token: 'not-the-token-at-all' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(listener.lastRefusal).toMatch(/token does not match/);
    await expect(connect({ rank: 2 })).rejects.toMatchObject({ code: 'CONFIG_MISMATCH', message: expect.stringContaining('sends to rank 1, not rank 2') });
    await expect(connect({ jobId: 'job-2' })).rejects.toMatchObject({ code: 'CONFIG_MISMATCH' });
  });

  it('accepts the successor with the token, once', async () => {
    const accepted = listener.successor(Date.now() + 3000);
    const link = await connect({});
    await expect(accepted).resolves.toBeDefined();
    await expect(connect({})).rejects.toMatchObject({ code: 'CONFIG_MISMATCH', message: expect.stringContaining('already has a data connection') });
    link.destroy();
  });

  it('keeps trying until a predecessor that starts late is listening', async () => {
    const port = listener.port;
    listener.close();
    const connecting = InboundLink.connect({ host: '127.0.0.1', port, jobId: 'job-1', rank: 1, token: TOKEN, peerRank: 0, deadline: Date.now() + 5000 });
    await new Promise((r) => setTimeout(r, 300));
    listener = await DataListener.listen({ host: '127.0.0.1', port, jobId: 'job-1', rank: 0, successorRank: 1, token: TOKEN, successorAddress: '127.0.0.1:1' });
    const accepted = listener.successor(Date.now() + 5000);
    const link = await connecting;
    await expect(accepted).resolves.toBeDefined();
    link.destroy();
  });

  it('gives up on a listener that never answers with PEER_UNREACHABLE', async () => {
    const port = listener.port;
    listener.close();
    const started = Date.now();
    const error = await InboundLink.connect({ host: '127.0.0.1', port, jobId: 'job-1', rank: 1, token: TOKEN, peerRank: 0, deadline: Date.now() + 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollectiveError);
    expect(error).toMatchObject({ code: 'PEER_UNREACHABLE' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

/** Connections that never finish their greeting must not stay open, nor pile up. */
describe('data listener: unauthenticated connections', () => {
  const TOKEN = 'data-plane-token-0123456789';
  let listener: DataListener | undefined;
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    listener?.close();
  });

  /** A raw connection; resolves `closed` when the listener drops it. */
  function rawConnection(port: number, firstBytes?: Buffer): { socket: Socket; opened: Promise<void>; closed: Promise<number>; isClosed: () => boolean } {
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.on('error', () => undefined); // a reset from the listener is what some of these tests wait for; `closed` reports it
    const opened = new Promise<void>((resolve) => socket.once('connect', () => {
      if (firstBytes) socket.write(firstBytes);
      resolve();
    }));
    let isClosed = false;
    const closed = new Promise<number>((resolve) =>
      socket.once('close', () => {
        isClosed = true;
        resolve(Date.now());
      }),
    );
    return { socket, opened, closed, isClosed: () => isClosed };
  }

  it('drops a connection that sends nothing, and one that sends half a greeting, after the handshake timeout', async () => {
    listener = await DataListener.listen({ host: '127.0.0.1', port: 0, jobId: 'job-1', rank: 0, successorRank: 1, token: TOKEN, successorAddress: '127.0.0.1:1', handshakeTimeoutMs: 300 });
    const started = Date.now();
    const idle = rawConnection(listener.port);
    // The greeting's kind and a length of 200 bytes, then silence.
    const half = Buffer.alloc(8);
    half.writeUInt32LE(0x4d46_4801, 0);
    half.writeUInt32LE(200, 4);
    const halfHeader = rawConnection(listener.port, half);
    const tiny = rawConnection(listener.port, Buffer.from([1, 2, 3]));
    let timer: NodeJS.Timeout | undefined;
    const closedAt = await Promise.race([
      Promise.all([idle.closed, halfHeader.closed, tiny.closed]),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('unauthenticated connections still open after 3 s')), 3000))),
    ]).finally(() => clearTimeout(timer));
    for (const t of closedAt) expect(t - started).toBeGreaterThanOrEqual(250);
    expect(listener.pendingConnections).toBe(0);
    expect(listener.lastRefusal).toMatch(/no greeting within 300 ms/);
  });

  it('keeps at most maxPending connections waiting for their greeting (300 at once), and still accepts the successor', async () => {
    listener = await DataListener.listen({ host: '127.0.0.1', port: 0, jobId: 'job-1', rank: 0, successorRank: 1, token: TOKEN, successorAddress: '127.0.0.1:1', maxPending: 8 });
    const flood = Array.from({ length: 300 }, () => rawConnection(listener!.port));
    await Promise.all(flood.map((c) => c.opened));
    // Every connection beyond the cap pushes the oldest waiting one out.
    const dropped = await new Promise<number>((resolve) => {
      let n = 0;
      const started = Date.now();
      const check = setInterval(() => {
        n = flood.filter((c) => c.isClosed()).length;
        if (n >= 292 || Date.now() - started > 5000) {
          clearInterval(check);
          resolve(n);
        }
      }, 20);
    });
    expect(dropped).toBeGreaterThanOrEqual(292);
    expect(listener.pendingConnections).toBeLessThanOrEqual(8);
    expect(listener.lastRefusal).toMatch(/more than 8 were waiting/);
    const accepted = listener.successor(Date.now() + 3000);
    const link = await InboundLink.connect({ host: '127.0.0.1', port: listener.port, jobId: 'job-1', rank: 1, token: TOKEN, peerRank: 0, deadline: Date.now() + 3000 });
    await expect(accepted).resolves.toBeDefined();
    link.destroy();
  });
});

/** The data plane listens on the interface the rank was told to bind, like its gRPC server. */
describe('data listener: bind host', () => {
  const TOKEN = 'data-plane-token-0123456789';
  const canConnect = (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });

  it('binds the host of the server the rank bound itself when no bindHost is given (127.0.0.2, not every interface)', async () => {
    const host = '127.0.0.2'; // loopback too on Linux, but a different address than 127.0.0.1
    const servers = await Promise.all([0, 1].map(() => RankServer.listen({ host, port: 0 })));
    const dataPorts = [await freePort(), await freePort()];
    const peers = servers.map((s) => ({ host, port: s.port }));
    const groups = await Promise.all(
      servers.map((server, rank) => CollectiveGroup.join({ jobId: 'job-bind', rank, worldSize: 2, peers, token: TOKEN, server, dataPort: dataPorts[rank], joinTimeoutMs: 10_000 })),
    );
    try {
      const buffers = [Float32Array.from([1, 2]), Float32Array.from([3, 4])];
      await Promise.all(groups.map((g, r) => g.allReduceMean(buffers[r]!)));
      expect(Array.from(buffers[0]!)).toEqual([2, 3]);
      for (const port of dataPorts) {
        expect({ port, on127_0_0_1: await canConnect('127.0.0.1', port) }).toEqual({ port, on127_0_0_1: false });
      }
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });
});
