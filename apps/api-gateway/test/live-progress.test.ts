import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { SOCKET_EVENTS, SWEEP_SOCKET_EVENTS, type SweepEvent, type TrainingEvent } from '@medfusion/contracts';
import { createRedis, publishApiKeyChanged, SweepEventPublisher, TrainingEventPublisher, waitForRedis } from '@medfusion/queue';
import { createLogger } from '@medfusion/runtime';
import { waitFor } from '@medfusion/testing';
import { createGatewayApp } from '../src/gateway-app.js';
import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

/**
 * Live progress over Socket.IO against two real gateway replicas sharing one database and Redis
 * prefix: `a` takes REST calls (revocations), sockets connect to `b`. The periodic re-check is set to
 * ten minutes so that what cuts a revoked key off within the test's bounds is the Redis signal.
 */
type Ack = { ok: true; room: string } | { ok: false; error: string };

describe('live progress: key checks on live connections, over two gateway replicas', () => {
  let a: GatewayHarness;
  let b: INestApplication;
  let bUrl: string;
  let redis: Redis;
  let training: TrainingEventPublisher;
  let sweeps: SweepEventPublisher;
  let datasetId: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    a = await startGateway({ SOCKET_AUTH_RECHECK_MS: '600000' });
    b = await createGatewayApp(a.resources.env, createLogger('api-gateway-test-b', a.resources.env.LOG_LEVEL));
    await b.listen(0, '127.0.0.1');
    bUrl = (await b.getUrl()).replace('[::1]', '127.0.0.1');
    redis = createRedis(a.resources.redisUrl, 'producer');
    await waitForRedis(redis, a.resources.redisUrl);
    training = new TrainingEventPublisher(redis, a.resources.redisPrefix);
    sweeps = new SweepEventPublisher(redis, a.resources.redisPrefix);
    datasetId = await registerDataset(a, a.adminKey);
  });
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.close());
  });
  afterAll(async () => {
    redis.disconnect();
    await b.close();
    await a.close();
  });

  /** A key created over REST on replica a: its id (to revoke it) and its secret. */
  async function newKey(role: 'admin' | 'member' | 'viewer', owner: string): Promise<{ id: string; key: string }> {
    const res = await a.api('POST', '/api/v1/api-keys', { key: a.adminKey, body: { name: `${role} ${owner}`, role, owner } });
    if (res.status !== 201) throw new Error(`could not create a key: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.id as string, key: res.body.key as string };
  }

  async function newJob(key: string): Promise<string> {
    const res = await a.api('POST', '/api/v1/training-jobs', { key, body: trainingJobBody(datasetId) });
    if (res.status !== 201) throw new Error(`could not create a job: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }

  async function newSweep(key: string): Promise<string> {
    const res = await a.api('POST', '/api/v1/sweeps', {
      key,
      body: {
        name: 'lr',
        searchSpace: { 'trainingConfig.learningRate': { type: 'float', low: 1e-4, high: 0.1, log: true } },
        objectives: [{ metric: 'val_auc', direction: 'maximize' }],
        budget: { maxTrials: 2 },
        baseTrainingJob: { dataConfig: { datasetId }, trainingConfig: { epochs: 1, batchSize: 16 } },
      },
    });
    if (res.status !== 201) throw new Error(`could not create a sweep: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }

  function connect(key: string, url = bUrl): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = io(url, { auth: { token: key }, transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(s);
      s.once('connect', () => resolve(s));
      s.once('connect_error', reject);
    });
  }

  const subscribe = (s: Socket, jobId: string) => new Promise<Ack>((resolve) => s.emit(SOCKET_EVENTS.subscribe, { jobId }, resolve));
  const subscribeSweep = (s: Socket, sweepId: string) => new Promise<Ack>((resolve) => s.emit(SWEEP_SOCKET_EVENTS.subscribe, { sweepId }, resolve));
  const step = (jobId: string, n: number): TrainingEvent => ({ type: 'step', jobId, epoch: 1, step: n, stepsPerEpoch: 1000, loss: 0.5, samplesPerSecond: 100, progress: n / 1000 });

  it('ends a revoked key\'s live socket on the other replica within about a second: no more events, no more joins', async () => {
    const alice = await newKey('member', 'alice-revoked');
    const jobId = await newJob(alice.key);
    const socket = await connect(alice.key);
    expect(await subscribe(socket, jobId)).toEqual({ ok: true, room: `job:${jobId}` });

    const received: TrainingEvent[] = [];
    socket.on(SOCKET_EVENTS.training, (e: TrainingEvent) => received.push(e));
    const ended: unknown[] = [];
    socket.on(SOCKET_EVENTS.sessionEnded, (m: unknown) => ended.push(m));
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));

    // A steady stream, as a worker sends: the socket must stop receiving it soon after the revoke.
    let n = 0;
    const stream = setInterval(() => void training.publish(step(jobId, ++n)), 20);
    try {
      await waitFor('events before the revoke', async () => received.length >= 3, 5000, 20);
      const revoke = await a.api('DELETE', `/api/v1/api-keys/${alice.id}`, { key: a.adminKey });
      expect(revoke.status).toBe(200);
      const revokedAt = Date.now();
      const reason = await Promise.race([disconnected, new Promise<string>((r) => setTimeout(() => r('still connected 1.5 s after the revoke'), 1500))]);
      expect(reason).toBe('io server disconnect');
      expect(Date.now() - revokedAt).toBeLessThan(1500);
      expect(ended).toEqual([{ reason: 'api key revoked' }]);
      const countAtCutOff = received.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(received.length).toBe(countAtCutOff);
    } finally {
      clearInterval(stream);
    }
    // Neither replica lets the key back in, so it cannot join any other room either.
    for (const url of [bUrl, a.baseUrl]) await expect(connect(alice.key, url)).rejects.toThrow(/unknown or revoked API key/);
    expect(socket.connected).toBe(false);
  });

  it('re-checks the key at every subscribe: a key revoked without a signal is refused and its socket ended', async () => {
    const carol = await newKey('member', 'carol');
    const jobId = await newJob(carol.key);
    const socket = await connect(carol.key);
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    // As if the revoking replica had lost its Redis connection: only the database knows.
    await a.ds.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [carol.id]);
    expect(await subscribe(socket, jobId)).toEqual({ ok: false, error: 'unauthorized: unknown or revoked API key' });
    expect(await disconnected).toBe('io server disconnect');
  });

  it('ends a revoked key\'s socket at the periodic re-check when no signal came (a replica with SOCKET_AUTH_RECHECK_MS=200)', async () => {
    const c = await createGatewayApp({ ...a.resources.env, SOCKET_AUTH_RECHECK_MS: 200 }, createLogger('api-gateway-test-c', a.resources.env.LOG_LEVEL));
    try {
      await c.listen(0, '127.0.0.1');
      const cUrl = (await c.getUrl()).replace('[::1]', '127.0.0.1');
      const judy = await newKey('member', 'judy');
      const socket = await connect(judy.key, cUrl);
      const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      await a.ds.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [judy.id]);
      const reason = await Promise.race([disconnected, new Promise<string>((r) => setTimeout(() => r('still connected 5 s after the revoke'), 5000))]);
      expect(reason).toBe('io server disconnect');
    } finally {
      await c.close();
    }
  });

  it('authenticates sweep subscriptions itself: a revoked key cannot follow a sweep, an unauthenticated socket cannot connect', async () => {
    const dave = await newKey('member', 'dave');
    const sweepId = await newSweep(dave.key);
    await expect(connect('')).rejects.toThrow(/pass the API key as auth.token/);
    const socket = await connect(dave.key);
    expect(await subscribeSweep(socket, sweepId)).toEqual({ ok: true, room: `sweep:${sweepId}` });
    await a.ds.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [dave.id]);
    expect(await subscribeSweep(socket, sweepId)).toEqual({ ok: false, error: 'unauthorized: unknown or revoked API key' });
  });

  it('relays training and sweep events with the publish time they were stamped with', async () => {
    const erin = await newKey('member', 'erin');
    const jobId = await newJob(erin.key);
    const sweepId = await newSweep(erin.key);
    const socket = await connect(erin.key);
    expect((await subscribe(socket, jobId)).ok).toBe(true);
    expect((await subscribeSweep(socket, sweepId)).ok).toBe(true);
    const got: Array<TrainingEvent | SweepEvent> = [];
    socket.on(SOCKET_EVENTS.training, (e: TrainingEvent) => got.push(e));
    socket.on(SWEEP_SOCKET_EVENTS.sweep, (e: SweepEvent) => got.push(e));
    const before = Date.now();
    await training.publish(step(jobId, 1));
    await sweeps.publish({ type: 'sweep-status', sweepId, status: 'running', trialCounts: {}, bestTrialId: null });
    await waitFor('both relayed events', async () => got.length === 2, 5000, 20);
    for (const e of got) {
      expect(typeof e.publishedAt).toBe('number');
      expect(e.publishedAt).toBeGreaterThanOrEqual(before);
      expect(e.publishedAt).toBeLessThanOrEqual(Date.now());
    }
  });

  it('answers "not found" for a job or sweep of another owner, exactly as for an id that does not exist', async () => {
    const owner = await newKey('member', 'frank');
    const other = await newKey('member', 'grace');
    const jobId = await newJob(owner.key);
    const sweepId = await newSweep(owner.key);
    const missing = '00000000-0000-4000-8000-000000000000';
    const socket = await connect(other.key);
    expect(await subscribe(socket, jobId)).toEqual({ ok: false, error: `training job ${jobId} not found` });
    expect(await subscribe(socket, missing)).toEqual({ ok: false, error: `training job ${missing} not found` });
    expect(await subscribeSweep(socket, sweepId)).toEqual({ ok: false, error: `sweep ${sweepId} not found` });
    expect(await subscribeSweep(socket, missing)).toEqual({ ok: false, error: `sweep ${missing} not found` });
  });

  it('leaves the rooms a key may no longer read when its owner changes (signalled like a revoke)', async () => {
    const heidi = await newKey('member', 'heidi');
    const jobId = await newJob(heidi.key);
    const socket = await connect(heidi.key);
    expect((await subscribe(socket, jobId)).ok).toBe(true);
    const received: TrainingEvent[] = [];
    socket.on(SOCKET_EVENTS.training, (e: TrainingEvent) => received.push(e));
    await a.ds.query(`UPDATE api_keys SET owner = 'ivan' WHERE id = $1`, [heidi.id]);
    await publishApiKeyChanged(redis, a.resources.redisPrefix, { keyId: heidi.id, change: 'updated' });
    // The key still authenticates, so the socket stays; it just stops hearing heidi's job.
    await waitFor('the downgrade', async () => {
      await training.publish(step(jobId, received.length + 100));
      await new Promise((r) => setTimeout(r, 100));
      const before = received.length;
      await training.publish(step(jobId, before + 200));
      await new Promise((r) => setTimeout(r, 200));
      return received.length === before;
    }, 3000, 0);
    expect(socket.connected).toBe(true);
    expect(await subscribe(socket, jobId)).toEqual({ ok: false, error: `training job ${jobId} not found` });
  });
});
