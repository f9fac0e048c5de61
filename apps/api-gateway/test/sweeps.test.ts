import type { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { sweepWakeChannel, SWEEP_SOCKET_EVENTS, type SweepEvent } from '@medfusion/contracts';
import { createRedis, SweepEventPublisher, waitForRedis } from '@medfusion/queue';
import { waitFor } from '@medfusion/testing';
import { registerDataset, startGateway, type GatewayHarness } from './gateway-harness.js';

/** Sweeps over REST and Socket.IO against the real gateway (no scheduler: the driver is tested in libs/sweeps). */
describe('sweeps over REST', () => {
  let h: GatewayHarness;
  let datasetId: string;
  let alice: string;
  let bob: string;
  let viewer: string;
  let subscriber: Redis;
  const wakes: string[] = [];

  beforeAll(async () => {
    h = await startGateway();
    datasetId = await registerDataset(h, h.adminKey);
    alice = await h.createKey('member', 'alice');
    bob = await h.createKey('member', 'bob');
    viewer = await h.createKey('viewer', 'vera');
    subscriber = createRedis(h.resources.redisUrl, 'subscriber');
    subscriber.on('message', (_ch: string, raw: string) => wakes.push(JSON.parse(raw).sweepId));
    await subscriber.subscribe(sweepWakeChannel(h.resources.redisPrefix));
  });
  afterAll(async () => {
    subscriber.disconnect();
    await h.close();
  });

  const body = (overrides: Record<string, unknown> = {}) => ({
    name: 'lr and fusion',
    searchSpace: {
      'trainingConfig.learningRate': { type: 'float', low: 1e-4, high: 0.1, log: true },
      'modelConfig.fusion': { type: 'categorical', choices: ['concatenate', 'gated'] },
    },
    objectives: [{ metric: 'val_auc', direction: 'maximize' }],
    sampler: { type: 'tpe', options: { nStartupTrials: 3 } },
    pruner: { type: 'median', options: { nStartupTrials: 2 } },
    budget: { maxTrials: 8, maxDurationSeconds: 3600 },
    parallelism: 2,
    baseTrainingJob: { dataConfig: { datasetId }, trainingConfig: { epochs: 3, batchSize: 16 } },
    ...overrides,
  });
  const create = (b: unknown, key = alice) => h.api('POST', '/api/v1/sweeps', { key, body: b });

  it('creates a running sweep with its defaults filled in, stores it, and wakes the driver', async () => {
    const res = await create(body({ enqueueTrials: [{ 'trainingConfig.learningRate': 0.001 }] }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'running', owner: 'alice', name: 'lr and fusion', trialCounts: { waiting: 1 } });
    expect(res.body.config.seed).toBe(0);
    expect(res.body.config.baseTrainingJob.modelConfig.backbone).toBe('small_cnn');
    await waitFor('the wake-up', async () => wakes.includes(res.body.id), 5000);

    const got = await h.api('GET', `/api/v1/sweeps/${res.body.id}`, { key: alice });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: res.body.id, bestTrial: null, paretoFront: [] });
    const trials = await h.api('GET', `/api/v1/sweeps/${res.body.id}/trials`, { key: alice });
    expect(trials.body).toMatchObject({ total: 1, items: [{ number: 0, state: 'waiting', enqueued: true, params: { 'trainingConfig.learningRate': 0.001 } }] });
  });

  it('an Idempotency-Key makes a retried create return the first sweep instead of starting a second', async () => {
    const headers = { 'Idempotency-Key': `sweep-${Date.now()}` };
    const first = await h.api('POST', '/api/v1/sweeps', { key: alice, body: body({ name: 'once' }), headers });
    const again = await h.api('POST', '/api/v1/sweeps', { key: alice, body: body({ name: 'once' }), headers });
    expect(first.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await h.ds.query(`SELECT count(*)::int AS n FROM sweeps WHERE name = 'once'`))[0].n).toBe(1);
  });

  it.each([
    ['a path that is not a training job field', { searchSpace: { 'trainingConfig.learningRat': { type: 'float', low: 0.001, high: 0.1 } } }, 'body.searchSpace.trainingConfig.learningRat', /unknown field|Unrecognized key/i],
    ['a path outside the job', { searchSpace: { lr: { type: 'float', low: 0.001, high: 0.1 } } }, 'body.searchSpace.lr', /dotted path of a training job field/],
    ['a bound the job schema refuses', { searchSpace: { 'trainingConfig.learningRate': { type: 'float', low: 0.001, high: 20 } } }, 'body.searchSpace.trainingConfig.learningRate', /value 20 .*learningRate/],
    ['a float range on an integer field', { searchSpace: { 'trainingConfig.batchSize': { type: 'float', low: 8, high: 64 } } }, 'body.searchSpace.trainingConfig.batchSize', /value \d+\.\d+ .*batchSize/],
    ['a choice the job schema refuses', { searchSpace: { 'modelConfig.fusion': { type: 'categorical', choices: ['concatenate', 'magic'] } } }, 'body.searchSpace.modelConfig.fusion', /"magic"/],
    ['a broken search space', { searchSpace: { 'trainingConfig.learningRate': { type: 'float', low: 0, high: 0.1, log: true } } }, 'body.searchSpace.trainingConfig.learningRate.low', /> 0/],
    ['an objective that is not a validation metric', { objectives: [{ metric: 'loss', direction: 'minimize' }] }, 'body.objectives.0.metric', /./],
    ['a single-objective sampler with two objectives', { objectives: [{ metric: 'val_auc', direction: 'maximize' }, { metric: 'val_loss', direction: 'minimize' }], pruner: { type: 'none' } }, 'body.sampler.type', /one objective/],
    ['pruning with two objectives', { sampler: { type: 'nsga2' }, objectives: [{ metric: 'val_auc', direction: 'maximize' }, { metric: 'val_loss', direction: 'minimize' }] }, 'body.pruner.type', /single objective/],
    ['an unknown sampler option', { sampler: { type: 'tpe', options: { nStartup: 3 } } }, 'body.sampler.options', /nStartup/],
    ['a bad base job', { baseTrainingJob: { dataConfig: { datasetId: 'x' }, trainingConfig: { epochs: 0 } } }, 'body.baseTrainingJob.trainingConfig.epochs', /./],
    ['an enqueued value outside the space', { enqueueTrials: [{ 'trainingConfig.learningRate': 0.5 }] }, 'body.enqueueTrials.0.trainingConfig.learningRate', /outside the domain/],
    ['zero parallelism', { parallelism: 0 }, 'body.parallelism', /./],
  ])('refuses %s with a 400 naming the field', async (_what, overrides, field, message) => {
    const res = await create(body(overrides));
    expect(res.status).toBe(400);
    const issue = res.body.details.find((d: { field: string }) => d.field === field);
    if (!issue) throw new Error(`no issue for ${field}: ${JSON.stringify(res.body.details)}`);
    expect(issue.message).toMatch(message);
  });

  it('refuses a dataset that does not exist, and writes nothing', async () => {
    const before = (await h.ds.query(`SELECT count(*)::int AS n FROM sweeps`))[0].n;
    const res = await create(body({ baseTrainingJob: { dataConfig: { datasetId: '00000000-0000-4000-8000-000000000000' }, trainingConfig: { epochs: 3 } } }));
    expect(res.status).toBe(400);
    expect(res.body.details[0].field).toBe('body.baseTrainingJob.dataConfig.datasetId');
    expect((await h.ds.query(`SELECT count(*)::int AS n FROM sweeps`))[0].n).toBe(before);
  });

  it('enqueues trials validated against the space, stops, and refuses changes after that', async () => {
    const { body: sweep } = await create(body({ budget: { maxTrials: 2 } }));
    const bad = await h.api('POST', `/api/v1/sweeps/${sweep.id}/trials`, { key: alice, body: { params: { 'modelConfig.fusion': 'late', momentum: 0.9 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { field: string }) => d.field).sort()).toEqual(['body.params.modelConfig.fusion', 'body.params.momentum']);

    const ok = await h.api('POST', `/api/v1/sweeps/${sweep.id}/trials`, { key: alice, body: { params: { 'modelConfig.fusion': 'gated' } } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ number: 0, state: 'waiting', params: { 'modelConfig.fusion': 'gated' } });
    await h.api('POST', `/api/v1/sweeps/${sweep.id}/trials`, { key: alice, body: { params: {} } });
    const over = await h.api('POST', `/api/v1/sweeps/${sweep.id}/trials`, { key: alice, body: { params: {} } });
    expect(over.status).toBe(409);
    expect(over.body.message).toMatch(/budget/);

    const stopped = await h.api('POST', `/api/v1/sweeps/${sweep.id}/stop`, { key: alice });
    expect(stopped.status).toBe(200);
    expect(stopped.body.status).toBe('stopping');
    expect((await h.api('POST', `/api/v1/sweeps/${sweep.id}/stop`, { key: alice })).body.status).toBe('stopping');
    expect((await h.api('POST', `/api/v1/sweeps/${sweep.id}/trials`, { key: alice, body: { params: {} } })).status).toBe(409);
    await h.ds.query(`UPDATE sweeps SET status = 'stopped' WHERE id = $1`, [sweep.id]);
    expect((await h.api('POST', `/api/v1/sweeps/${sweep.id}/stop`, { key: alice })).status).toBe(409);
  });

  it('owners, admins and viewers read; only the owner or an admin changes; viewers create nothing', async () => {
    const { body: sweep } = await create(body());
    // Another member may not read the sweep: 404, as for an unknown id (it cannot tell it exists).
    expect((await h.api('GET', `/api/v1/sweeps/${sweep.id}`, { key: bob })).status).toBe(404);
    expect((await h.api('GET', `/api/v1/sweeps/${sweep.id}/trials`, { key: bob })).status).toBe(404);
    expect((await h.api('GET', `/api/v1/sweeps/${sweep.id}`, { key: viewer })).status).toBe(200);
    expect((await h.api('GET', `/api/v1/sweeps/${sweep.id}`, { key: h.adminKey })).status).toBe(200);
    expect((await h.api('POST', `/api/v1/sweeps/${sweep.id}/stop`, { key: bob })).status).toBe(404);
    // A viewer reads it but changes nothing: 403.
    expect((await h.api('POST', `/api/v1/sweeps/${sweep.id}/stop`, { key: viewer })).status).toBe(403);
    expect((await h.api('POST', `/api/v1/sweeps/${sweep.id}/trials`, { key: bob, body: { params: {} } })).status).toBe(404);
    expect((await create(body(), viewer)).status).toBe(403);
    expect((await h.api('GET', `/api/v1/sweeps/00000000-0000-4000-8000-000000000000`, { key: alice })).status).toBe(404);
    expect((await h.api('GET', `/api/v1/sweeps/not-a-uuid`, { key: alice })).status).toBe(400);

    const mine = await h.api('GET', '/api/v1/sweeps?limit=100', { key: alice });
    expect(mine.body.items.every((s: { owner: string }) => s.owner === 'alice')).toBe(true);
    expect(mine.body.items.map((s: { id: string }) => s.id)).toContain(sweep.id);
    expect((await h.api('GET', '/api/v1/sweeps', { key: bob })).body.total).toBe(0);
    const running = await h.api('GET', '/api/v1/sweeps?status=running&limit=100', { key: h.adminKey });
    expect(running.body.items.every((s: { status: string }) => s.status === 'running')).toBe(true);
    expect((await h.api('GET', '/api/v1/sweeps?status=sideways', { key: h.adminKey })).status).toBe(400);
  });

  it('GET /sweeps/:id gives the best trial with its model, or the Pareto front for several objectives', async () => {
    const insertTrial = (sweepId: string, number: number, state: string, values: number[] | null, jobId: string | null = null) =>
      h.ds.query(`INSERT INTO trials (sweep_id, number, state, values, training_job_id) VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING id`, [
        sweepId,
        number,
        state,
        values && JSON.stringify(values),
        jobId,
      ]);
    const { body: single } = await create(body({ pruner: { type: 'none' } }));
    const [{ id: jobId }] = await h.ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, status, total_epochs, owner) VALUES ('t', '{}', '{}', '{"epochs": 1}', 'completed', 1, 'alice') RETURNING id`,
    );
    const [{ id: modelId }] = await h.ds.query(
      `INSERT INTO models (name, backbone, num_classes, input_shape, model_path, format, training_job_id, created_by) VALUES ('m', 'small_cnn', 2, '{}', '/m', 'tfjs-layers', $1, 'alice') RETURNING id`,
      [jobId],
    );
    await insertTrial(single.id, 0, 'complete', [0.7]);
    await insertTrial(single.id, 1, 'complete', [0.9], jobId);
    await insertTrial(single.id, 2, 'pruned', [0.95]);
    const got = (await h.api('GET', `/api/v1/sweeps/${single.id}`, { key: alice })).body;
    expect(got.bestTrial).toMatchObject({ number: 1, values: [0.9], trainingJobId: jobId, modelId });
    expect(got.paretoFront.map((t: { number: number }) => t.number)).toEqual([1]);

    const { body: multi } = await create(
      body({ sampler: { type: 'nsga2' }, pruner: { type: 'none' }, objectives: [{ metric: 'val_auc', direction: 'maximize' }, { metric: 'val_loss', direction: 'minimize' }] }),
    );
    await insertTrial(multi.id, 0, 'complete', [0.9, 0.5]);
    await insertTrial(multi.id, 1, 'complete', [0.8, 0.3]);
    await insertTrial(multi.id, 2, 'complete', [0.7, 0.6]);
    const front = (await h.api('GET', `/api/v1/sweeps/${multi.id}`, { key: alice })).body;
    expect(front.bestTrial).toBeNull();
    expect(front.paretoFront.map((t: { number: number }) => t.number)).toEqual([0, 1]);
    const onlyComplete = await h.api('GET', `/api/v1/sweeps/${single.id}/trials?state=complete`, { key: alice });
    expect(onlyComplete.body.items.map((t: { number: number }) => t.number)).toEqual([0, 1]);
  });

  it('documents the routes in OpenAPI', async () => {
    const doc = await h.api('GET', '/api/docs/openapi.json');
    const paths = Object.keys(doc.body.paths ?? {});
    for (const p of ['/api/v1/sweeps', '/api/v1/sweeps/{id}', '/api/v1/sweeps/{id}/trials', '/api/v1/sweeps/{id}/stop']) expect(paths).toContain(p);
  });

  it('relays sweep events to the room of a sweep the socket may read', async () => {
    const { body: sweep } = await create(body());
    const connect = (key: string) =>
      new Promise<Socket>((resolve, reject) => {
        const s = io(h.baseUrl, { auth: { token: key }, transports: ['websocket'] });
        s.on('connect', () => resolve(s));
        s.on('connect_error', reject);
      });
    const subscribe = (s: Socket, sweepId: string) =>
      new Promise<{ ok: boolean; error?: string }>((resolve) => s.emit(SWEEP_SOCKET_EVENTS.subscribe, { sweepId }, resolve));
    const mine = await connect(alice);
    const theirs = await connect(bob);
    try {
      expect(await subscribe(mine, sweep.id)).toEqual({ ok: true, room: `sweep:${sweep.id}` });
      expect(await subscribe(theirs, sweep.id)).toEqual({ ok: false, error: `sweep ${sweep.id} not found` });
      const received: SweepEvent[] = [];
      mine.on(SWEEP_SOCKET_EVENTS.sweep, (e: SweepEvent) => received.push(e));
      const redis = createRedis(h.resources.redisUrl, 'producer');
      await waitForRedis(redis, h.resources.redisUrl);
      try {
        await new SweepEventPublisher(redis, h.resources.redisPrefix).publish({ type: 'sweep-status', sweepId: sweep.id, status: 'stopping', trialCounts: { running: 1 }, bestTrialId: null });
      } finally {
        redis.disconnect();
      }
      await waitFor('the relayed event', async () => received.length > 0, 5000);
      expect(received[0]).toMatchObject({ type: 'sweep-status', sweepId: sweep.id, status: 'stopping' });
    } finally {
      mine.close();
      theirs.close();
    }
  });
});
