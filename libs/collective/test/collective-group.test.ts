import { CollectiveError, CollectiveGroup, RankServer, type JoinOptions } from '@medfusion/collective';
import { freePort } from './free-port.js';

/**
 * Ranks of one group inside this process, on 127.0.0.1 with ephemeral ports: all-reduce results
 * against a plain mean, bit-identity across ranks, and the failures a user meets (wrong token, a
 * rank that never starts, a rank that never calls, mismatched buffers).
 */
const TOKEN = 'test-token-0123456789abcdef';

async function startGroup(worldSize: number, overrides: (rank: number) => Partial<JoinOptions> = () => ({})): Promise<CollectiveGroup[]> {
  const servers = await Promise.all(Array.from({ length: worldSize }, () => RankServer.listen({ host: '127.0.0.1', port: 0 })));
  const peers = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  return Promise.all(
    servers.map((server, rank) => CollectiveGroup.join({ jobId: 'job-1', rank, worldSize, peers, token: TOKEN, server, deadlineMs: 10_000, joinTimeoutMs: 10_000, bucketBytes: 64, ...overrides(rank) })),
  );
}

function randomBuffer(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 200 - 100;
  });
}

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function settle<T>(promises: Promise<T>[]): Promise<(T | CollectiveError)[]> {
  const results = await Promise.allSettled(promises);
  return results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as CollectiveError)));
}

describe('CollectiveGroup (in process)', () => {
  it('a group of one returns its own buffer unchanged', async () => {
    const group = await CollectiveGroup.join({ jobId: 'solo', rank: 0, worldSize: 1, peers: [], token: TOKEN });
    const buf = Float32Array.from([1, 2, 3]);
    await expect(group.allReduceMean(buf)).resolves.toBe(buf);
    expect(Array.from(buf)).toEqual([1, 2, 3]);
    await group.barrier();
    await group.close();
  });

  it.each([2, 3, 4])('N=%i: every rank gets the mean, bit-identical, for sizes not divisible by N or the bucket, and smaller than N', async (N) => {
    const groups = await startGroup(N);
    try {
      // 16-element buckets (64 bytes): 1003 elements span many buckets per segment.
      for (const [call, size] of [0, 1, 2, 5, 17, 1003].entries()) {
        const inputs = groups.map((_, r) => randomBuffer(size, 100 * call + r + 1));
        const buffers = inputs.map((b) => b.slice());
        const out = await Promise.all(groups.map((g, r) => g.allReduceMean(buffers[r]!)));
        out.forEach((o, r) => expect(o).toBe(buffers[r]));
        for (let i = 0; i < size; i++) {
          const mean = inputs.reduce((s, b) => s + b[i]!, 0) / N;
          expect(Math.abs(buffers[0]![i]! - mean)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(mean)));
        }
        for (let r = 1; r < N; r++) expect(bytesOf(buffers[r]!).equals(bytesOf(buffers[0]!))).toBe(true);
      }
      await Promise.all(groups.map((g) => g.barrier()));
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('runs calls queued without awaiting in order, each with its own sequence number', async () => {
    const groups = await startGroup(3);
    try {
      const calls = groups.map((g, r) => [10, 20, 30].map((v) => g.allReduceMean(new Float32Array(7).fill(v * (r + 1)))));
      const results = await Promise.all(calls.map((c) => Promise.all(c)));
      for (const perRank of results) expect(perRank.map((b) => b[6])).toEqual([20, 40, 60]);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('reduces a Float32Array that is a view into a larger buffer, leaving the bytes around it alone', async () => {
    const groups = await startGroup(2);
    try {
      const backing = groups.map(() => new Float32Array(40).fill(-1));
      const views = backing.map((b, r) => b.subarray(3, 3 + 33).fill(r + 1));
      await Promise.all(groups.map((g, r) => g.allReduceMean(views[r]!)));
      for (const b of backing) {
        expect(Array.from(b.subarray(3, 36))).toEqual(new Array(33).fill(1.5));
        expect([...b.subarray(0, 3), ...b.subarray(36)]).toEqual(new Array(7).fill(-1));
      }
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('broadcasts the root\'s buffer to every rank, bit for bit, then all-reduces as usual', async () => {
    const groups = await startGroup(3);
    try {
      const buffers = groups.map((_, r) => randomBuffer(101, r + 50));
      const root = buffers[2]!.slice();
      await Promise.all(groups.map((g, r) => g.broadcast(buffers[r]!, 2)));
      for (const b of buffers) expect(bytesOf(b).equals(bytesOf(root))).toBe(true);
      const out = await Promise.all(groups.map((g, r) => g.allReduceMean(new Float32Array(4).fill(r * 3))));
      for (const b of out) expect(Array.from(b)).toEqual([3, 3, 3, 3]);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('a rank that begins its call late still gets the exact mean (its data connection waits, then reads on)', async () => {
    // Large buffers, default 4 MiB buckets: the late rank's first bucket is already queued in the
    // kernel when it begins, so the socket data plane parks and resumes mid-stream.
    const groups = await startGroup(3, () => ({ bucketBytes: 1 << 20 }));
    try {
      const n = 700_001;
      const buffers = groups.map((_, r) => Float32Array.from({ length: n }, (_, i) => Math.fround(((i % 97) - 48) * (r + 1))));
      const expected = Float32Array.from({ length: n }, (_, i) => Math.fround((((i % 97) - 48) * 6) / 3));
      const early = [groups[0]!.allReduceMean(buffers[0]!), groups[2]!.allReduceMean(buffers[2]!)];
      await new Promise((r) => setTimeout(r, 150));
      await Promise.all([...early, groups[1]!.allReduceMean(buffers[1]!)]);
      for (const b of buffers) {
        let worst = 0;
        for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(b[i]! - expected[i]!));
        expect(worst).toBeLessThanOrEqual(1e-5);
        expect(bytesOf(b).equals(bytesOf(buffers[0]!))).toBe(true);
      }
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('ranks making different calls (broadcast against all-reduce) fail with CALL_MISMATCH', async () => {
    const groups = await startGroup(3);
    try {
      const results = await settle(groups.map((g, r) => (r === 0 ? g.broadcast(new Float32Array(8), 0) : g.allReduceMean(new Float32Array(8)))));
      for (const e of results) expect((e as CollectiveError).code).toBe('CALL_MISMATCH');
      expect(results.some((e) => /is in call "(mean|broadcast:0)" but successor rank \d is in "(broadcast:0|mean)"/.test((e as CollectiveError).message))).toBe(true);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('mismatched buffer sizes fail on every rank with SIZE_MISMATCH, and the group stays broken', async () => {
    const groups = await startGroup(3);
    try {
      const results = await settle(groups.map((g, r) => g.allReduceMean(new Float32Array(r === 1 ? 50 : 40))));
      for (const e of results) {
        expect(e).toBeInstanceOf(CollectiveError);
        expect((e as CollectiveError).code).toBe('SIZE_MISMATCH');
      }
      expect((results[0] as CollectiveError).message).toMatch(/40 elements|50/);
      await expect(groups[0]!.allReduceMean(new Float32Array(40))).rejects.toMatchObject({ code: 'GROUP_BROKEN' });
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('a rank that never joins the call makes the others fail with DEADLINE_EXCEEDED naming what they waited for', async () => {
    const groups = await startGroup(3, () => ({ deadlineMs: 800 }));
    try {
      const started = Date.now();
      const results = await settle([groups[0]!.allReduceMean(new Float32Array(100)), groups[2]!.allReduceMean(new Float32Array(100))]);
      expect(Date.now() - started).toBeLessThan(5000);
      const codes = results.map((e) => (e as CollectiveError).code);
      // Rank 0 waits for rank 1 to pull its data.
      expect(codes[0]).toBe('DEADLINE_EXCEEDED');
      expect((results[0] as CollectiveError).peer?.rank).toBe(1);
      expect((results[0] as CollectiveError).message).toMatch(/rank 0 allReduce #1, peer rank 1 \(127\.0\.0\.1:\d+\): DEADLINE_EXCEEDED: successor rank 1 did not ask/);
      // Rank 2 either times out itself or sees rank 0 give up first (rank 0 cancels the stream from rank 2).
      expect(['DEADLINE_EXCEEDED', 'PEER_LEFT']).toContain(codes[1]);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('close() fails the call in progress with CLOSED at once, and the neighbour\'s next call with PEER_LEFT', async () => {
    const groups = await startGroup(2);
    try {
      // Rank 1 makes no call, so rank 0's call is still waiting when it closes.
      // The call's promise is handled from the start: it rejects while close() is still shutting the server down.
      const pending = groups[0]!.allReduceMean(new Float32Array(100)).then(
        () => undefined,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await groups[0]!.close();
      expect(await pending).toMatchObject({ code: 'CLOSED' });
      expect(Date.now() - started).toBeLessThan(2000);
      await expect(groups[0]!.allReduceMean(new Float32Array(4))).rejects.toMatchObject({ code: 'CLOSED' });
      await expect(groups[1]!.allReduceMean(new Float32Array(100))).rejects.toMatchObject({ code: 'PEER_LEFT', peer: { rank: 0 } });
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('a token mismatch is refused with UNAUTHENTICATED on both sides of the ring link', async () => {
    const servers = await Promise.all([0, 1].map(() => RankServer.listen({ host: '127.0.0.1', port: 0 })));
    const peers = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const base = { jobId: 'job-2', worldSize: 2, peers, joinTimeoutMs: 1500 };
    const results = await settle([
      CollectiveGroup.join({ ...base, rank: 0, token: TOKEN, server: servers[0] }),
      CollectiveGroup.join({ ...base, rank: 1, token: 'not-the-job-token-000000', server: servers[1] }),
    ]);
    const [good, bad] = results as CollectiveError[];
    expect(bad).toBeInstanceOf(CollectiveError);
    expect(bad!.code).toBe('UNAUTHENTICATED');
    expect(bad!.message).toMatch(/the token does not match this job/);
    expect(good!.code).toBe('UNAUTHENTICATED');
  });

  it('a rank that never starts makes join fail with PEER_UNREACHABLE naming it and its address', async () => {
    const servers = await Promise.all([0, 1].map(() => RankServer.listen({ host: '127.0.0.1', port: 0 })));
    const missing = await freePort();
    const peers = [...servers.map((s) => ({ host: '127.0.0.1', port: s.port })), { host: '127.0.0.1', port: missing }];
    const started = Date.now();
    const results = await settle(servers.map((server, rank) => CollectiveGroup.join({ jobId: 'job-3', rank, worldSize: 3, peers, token: TOKEN, server, joinTimeoutMs: 1000 })));
    expect(Date.now() - started).toBeLessThan(4000);
    for (const e of results as CollectiveError[]) {
      expect(e.code).toBe('PEER_UNREACHABLE');
      expect(e.peer).toEqual({ rank: 2, address: `127.0.0.1:${missing}` });
    }
    expect((results[1] as CollectiveError).message).toMatch(new RegExp(`rank 2 at 127\\.0\\.0\\.1:${missing} did not answer within the 1000 ms join timeout`));
  });

  it('rejects bad options with INVALID_ARGUMENT naming the field', async () => {
    await expect(CollectiveGroup.join({ jobId: 'j', rank: 2, worldSize: 2, peers: [], token: TOKEN })).rejects.toThrow(/options\.rank: rank 2 is not below worldSize 2/);
    await expect(CollectiveGroup.join({ jobId: 'j', rank: 0, worldSize: 2, peers: [{ host: 'a', port: 1 }], token: TOKEN })).rejects.toThrow(/options\.peers: 1 peer addresses for worldSize 2/);
    await expect(CollectiveGroup.join({ jobId: 'j', rank: 0, worldSize: 1, peers: [], token: 'short' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
