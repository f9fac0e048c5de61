import { randomUUID } from 'node:crypto';
import { createRedis, TrainingQueue } from '@medfusion/queue';
import { waitFor, type ApiResponse } from '@medfusion/testing';
import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

/**
 * `Idempotency-Key` on POST: a retry with the same key and body gets the first response back and
 * creates nothing; keys are per owner; a different body is refused; a failed request frees the key.
 */
describe('Idempotency-Key', () => {
  let h: GatewayHarness;
  let redisQueue: { queue: TrainingQueue; close(): Promise<void> };
  let datasetId: string;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    h = await startGateway();
    datasetId = await registerDataset(h, h.adminKey);
    [alice, bob] = await Promise.all([h.createKey('member', 'alice'), h.createKey('member', 'bob')]);
    const redis = createRedis(h.resources.redisUrl, 'producer');
    const queue = new TrainingQueue(redis, h.resources.redisPrefix);
    redisQueue = {
      queue,
      async close() {
        await queue.close();
        redis.disconnect();
      },
    };
  });
  afterAll(async () => {
    await redisQueue.close();
    await h.close();
  });

  const post = (path: string, key: string, idemKey: string | undefined, body: unknown) =>
    h.api('POST', path, { key, body, headers: idemKey === undefined ? {} : { 'idempotency-key': idemKey } });

  async function count(table: string, where: string, params: unknown[]): Promise<number> {
    const [row] = await h.ds.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params);
    return Number(row.n);
  }

  /** Every BullMQ job of the training queue, in any state. */
  async function bullJobIds(): Promise<string[]> {
    const jobs = await redisQueue.queue.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children']);
    return jobs.map((j) => j!.id!);
  }

  const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

  function expectReplayOf(first: ApiResponse, second: ApiResponse) {
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
    expect(second.body).toEqual(first.body);
  }

  it('training jobs: the same key and body twice create one row and one BullMQ job', async () => {
    const name = unique('job');
    const body = trainingJobBody(datasetId, { name });
    const jobsBefore = await bullJobIds();

    const first = await post('/api/v1/training-jobs', alice, 'retry-job-1', body);
    const second = await post('/api/v1/training-jobs', alice, 'retry-job-1', body);
    expectReplayOf(first, second);

    expect(await count('training_jobs', 'name = $1', [name])).toBe(1);
    const jobsAfter = await bullJobIds();
    expect(jobsAfter.filter((id) => !jobsBefore.includes(id))).toEqual([first.body.id]);
  });

  it('datasets: the same key and body twice create one row', async () => {
    const name = unique('ds');
    const body = { name, dataPath: h.dataFolder('x'), numSamples: 10, numClasses: 2, trainSamples: 8, valSamples: 1, testSamples: 1 };
    const first = await post('/api/v1/datasets', alice, 'retry-ds-1', body);
    const second = await post('/api/v1/datasets', alice, 'retry-ds-1', body);
    expectReplayOf(first, second);
    expect(await count('datasets', 'name = $1', [name])).toBe(1);
  });

  it('workflows: the same key and body twice create one row', async () => {
    const name = unique('wf');
    const body = { name, nodes: [{ id: 'a', type: 'train' }, { id: 'b', type: 'evaluate' }], edges: [{ source: 'a', target: 'b' }] };
    const first = await post('/api/v1/workflows', alice, 'retry-wf-1', body);
    const second = await post('/api/v1/workflows', alice, 'retry-wf-1', body);
    expectReplayOf(first, second);
    expect(await count('workflows', 'name = $1', [name])).toBe(1);
  });

  it('without the header, the same body twice creates two resources', async () => {
    const name = unique('no-key');
    const body = trainingJobBody(datasetId, { name });
    const a = await post('/api/v1/training-jobs', alice, undefined, body);
    const b = await post('/api/v1/training-jobs', alice, undefined, body);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
    expect(await count('training_jobs', 'name = $1', [name])).toBe(2);
  });

  it('10 concurrent POSTs with one key create exactly one row and one BullMQ job', async () => {
    const name = unique('race');
    const body = trainingJobBody(datasetId, { name });
    const jobsBefore = await bullJobIds();

    const responses = await Promise.all(Array.from({ length: 10 }, () => post('/api/v1/training-jobs', alice, 'race-key', body)));

    for (const r of responses) {
      expect([201, 409]).toContain(r.status);
      if (r.status === 409) {
        expect(r.body).toMatchObject({ statusCode: 409, details: [{ field: 'Idempotency-Key', message: 'in progress' }] });
        expect(r.body.message).toMatch(/^Idempotency-Key: .*still being processed/);
      }
    }
    const ok = responses.filter((r) => r.status === 201);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    expect(ok.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1);

    expect(await count('training_jobs', 'name = $1', [name])).toBe(1);
    const id = ok[0]!.body.id as string;
    expect((await bullJobIds()).filter((j) => !jobsBefore.includes(j))).toEqual([id]);

    // once the first has finished, a retry gets the stored response
    const retry = await post('/api/v1/training-jobs', alice, 'race-key', body);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.id).toBe(id);
  });

  it('the same key with a different body is refused with 422 and creates nothing', async () => {
    const name = unique('first');
    const first = await post('/api/v1/training-jobs', alice, 'reused-key', trainingJobBody(datasetId, { name }));
    expect(first.status).toBe(201);
    const otherName = unique('second');
    const other = await post('/api/v1/training-jobs', alice, 'reused-key', trainingJobBody(datasetId, { name: otherName }));
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ statusCode: 422, details: [{ field: 'Idempotency-Key' }] });
    expect(other.body.message).toMatch(/^Idempotency-Key: already used/);
    expect(await count('training_jobs', 'name = $1', [otherName])).toBe(0);

    // ...and so is the same key on another route
    const elsewhere = await post('/api/v1/datasets', alice, 'reused-key', { name: unique('ds'), dataPath: h.dataFolder('x'), numSamples: 1, numClasses: 1 });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.message).toContain('POST /api/v1/training-jobs');

    // the original response is still what a true retry gets
    const retry = await post('/api/v1/training-jobs', alice, 'reused-key', trainingJobBody(datasetId, { name }));
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
  });

  it('keys are per owner: the same key from two owners creates two resources', async () => {
    const name = unique('shared-key');
    const body = trainingJobBody(datasetId, { name });
    const a = await post('/api/v1/training-jobs', alice, 'nightly-run', body);
    const b = await post('/api/v1/training-jobs', bob, 'nightly-run', body);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect(a.body.id).not.toBe(b.body.id);
    expect([a.body.owner, b.body.owner]).toEqual(['alice', 'bob']);
    expect(await count('training_jobs', 'name = $1', [name])).toBe(2);

    // and each owner's retry gets its own resource back
    const bRetry = await post('/api/v1/training-jobs', bob, 'nightly-run', body);
    expect(bRetry.headers.get('idempotent-replayed')).toBe('true');
    expect(bRetry.body.id).toBe(b.body.id);
  });

  it('a request that failed validation does not use up the key', async () => {
    const name = unique('fixed');
    const bad = trainingJobBody(datasetId, { name, trainingConfig: { epochs: 0 } });
    const failed = await post('/api/v1/training-jobs', alice, 'fix-and-retry', bad);
    expect(failed.status).toBe(400);
    expect(failed.body.message).toContain('body.trainingConfig.epochs');
    expect(await count('idempotency_keys', 'owner = $1 AND key = $2', ['alice', 'fix-and-retry'])).toBe(0);

    const fixed = await post('/api/v1/training-jobs', alice, 'fix-and-retry', trainingJobBody(datasetId, { name }));
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
    const replay = await post('/api/v1/training-jobs', alice, 'fix-and-retry', trainingJobBody(datasetId, { name }));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(fixed.body.id);
    expect(await count('training_jobs', 'name = $1', [name])).toBe(1);
  });

  it('a request refused by the service (unknown dataset) does not use up the key either', async () => {
    const name = unique('late-dataset');
    const missing = randomUUID();
    const failed = await post('/api/v1/training-jobs', alice, 'dataset-later', trainingJobBody(missing, { name }));
    expect(failed.status).toBe(400);
    expect(failed.body.details).toEqual([{ field: 'body.dataConfig.datasetId', message: `no dataset with id ${missing}` }]);

    const ok = await post('/api/v1/training-jobs', alice, 'dataset-later', trainingJobBody(datasetId, { name }));
    expect(ok.status).toBe(201);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
  });

  it('control actions replay too: a retried pause gets 200 and the stored job, not a 409', async () => {
    const job = await post('/api/v1/training-jobs', alice, undefined, trainingJobBody(datasetId, { name: unique('pause') }));
    const path = `/api/v1/training-jobs/${job.body.id}/pause`;
    const first = await h.api('POST', path, { key: alice, headers: { 'idempotency-key': 'pause-once' } });
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('paused');
    const retry = await h.api('POST', path, { key: alice, headers: { 'idempotency-key': 'pause-once' } });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    // without the key, pausing a paused job is the usual 409
    expect((await h.api('POST', path, { key: alice })).status).toBe(409);
  });
  it('the same body with its keys in another order is the same request', async () => {
    const name = unique('ds-order');
    const first = await post('/api/v1/datasets', alice, 'order-1', { name, dataPath: h.dataFolder('d'), numSamples: 4, numClasses: 2 });
    const second = await post('/api/v1/datasets', alice, 'order-1', { numClasses: 2, numSamples: 4, dataPath: h.dataFolder('d'), name });
    expectReplayOf(first, second);
    expect(await count('datasets', 'name = $1', [name])).toBe(1);
  });

  it('API key creation refuses Idempotency-Key, so no secret is ever stored for replay', async () => {
    const res = await post('/api/v1/api-keys', h.adminKey, 'key-1', { name: 'ci', role: 'viewer', owner: 'ci' });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: 'Idempotency-Key', message: 'not supported on this route' }]);
    expect(await count('api_keys', 'owner = $1', ['ci'])).toBe(0);
    expect(await count('idempotency_keys', 'key = $1', ['key-1'])).toBe(0);
  });

  it('a request whose key a retry took over while it ran fails with 409 and creates nothing', async () => {
    const name = unique('overtaken');
    const slowDataset = await registerDataset(h, h.adminKey, unique('slow-ds'));
    // Lock the job's dataset row: the request, holding its claim, stalls on the foreign-key check of
    // its job row; meanwhile a retry takes the stale key over (done here by hand).
    const locker = h.ds.createQueryRunner();
    await locker.connect();
    try {
      await locker.startTransaction();
      await locker.query(`SELECT id FROM datasets WHERE id = $1 FOR UPDATE`, [slowDataset]);
      const request = post('/api/v1/training-jobs', alice, 'overtaken-1', trainingJobBody(slowDataset, { name }));
      await waitFor('the request to stall on the locked dataset row', async () => {
        const [row] = await h.ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        return row.n > 0;
      });
      await locker.query(`DELETE FROM idempotency_keys WHERE owner = 'alice' AND key = 'overtaken-1'`);
      await locker.query(
        `INSERT INTO idempotency_keys (owner, key, method, path, request_hash, state, created_at)
         VALUES ('alice', 'overtaken-1', 'POST', '/api/v1/training-jobs', repeat('0', 64), 'in_progress', now() + interval '1 second')`,
      );
      await locker.commitTransaction();
      const res = await request;
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ details: [{ field: 'Idempotency-Key', message: 'taken over by a retry' }] });
      expect(await count('training_jobs', 'name = $1', [name])).toBe(0);
      // The retry's claim is untouched by the failed request.
      expect(await count('idempotency_keys', `owner = 'alice' AND key = 'overtaken-1' AND state = 'in_progress'`, [])).toBe(1);
    } finally {
      if (locker.isTransactionActive) await locker.rollbackTransaction();
      await locker.release();
    }
  });

  it('a claim left in progress by a gateway that died is taken over after a few minutes', async () => {
    const name = unique('ds-stale');
    await h.ds.query(
      `INSERT INTO idempotency_keys (owner, key, method, path, request_hash, state, created_at)
       VALUES ('alice', 'stale-1', 'POST', '/api/v1/datasets', repeat('0', 64), 'in_progress', now() - interval '10 minutes')`,
    );
    const res = await post('/api/v1/datasets', alice, 'stale-1', { name, dataPath: h.dataFolder('d'), numSamples: 4, numClasses: 2 });
    expect(res.status).toBe(201);
    expect(await count('datasets', 'name = $1', [name])).toBe(1);
  });
});
