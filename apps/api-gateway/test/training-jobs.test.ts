import { TrainingQueue, createRedis } from '@medfusion/queue';
import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

describe('training jobs over REST', () => {
  let h: GatewayHarness;
  let datasetId: string;

  beforeAll(async () => {
    h = await startGateway();
    datasetId = await registerDataset(h, h.adminKey);
  });
  afterAll(() => h.close());

  it('creates a queued row and a BullMQ job with the same id', async () => {
    const res = await h.api('POST', '/api/v1/training-jobs', { key: h.adminKey, body: trainingJobBody(datasetId) });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'queued', totalEpochs: 3, currentEpoch: 0, datasetId });
    expect(res.body.modelConfig.backbone).toBe('small_cnn');

    const [row] = await h.ds.query('SELECT status FROM training_jobs WHERE id = $1', [res.body.id]);
    expect(row.status).toBe('queued');

    const redis = createRedis(h.resources.redisUrl, 'producer');
    const queue = new TrainingQueue(redis, h.resources.redisPrefix);
    try {
      const job = await queue.queue.getJob(res.body.id);
      expect(job?.id).toBe(res.body.id);
      expect(job?.data).toEqual({ trainingJobId: res.body.id });
      expect(await job?.getState()).toBe('waiting');
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });

  it('lists with a status filter and pagination', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await h.api('POST', '/api/v1/training-jobs', { key: h.adminKey, body: trainingJobBody(datasetId, { name: `job-${i}` }) });
      ids.push(r.body.id);
    }
    await h.api('POST', `/api/v1/training-jobs/${ids[0]}/pause`, { key: h.adminKey });
    const paused = await h.api('GET', '/api/v1/training-jobs?status=paused', { key: h.adminKey });
    expect(paused.status).toBe(200);
    expect(paused.body.items.map((j: { id: string }) => j.id)).toEqual([ids[0]]);

    const page1 = await h.api('GET', '/api/v1/training-jobs?limit=2&offset=0', { key: h.adminKey });
    const page2 = await h.api('GET', '/api/v1/training-jobs?limit=2&offset=2', { key: h.adminKey });
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.total).toBe(page2.body.total);
    const seen = new Set([...page1.body.items, ...page2.body.items].map((j: { id: string }) => j.id));
    expect(seen.size).toBe(page1.body.items.length + page2.body.items.length);
  });

  it('pauses, resumes and stops a queued job, refusing illegal transitions', async () => {
    const { body: job } = await h.api('POST', '/api/v1/training-jobs', { key: h.adminKey, body: trainingJobBody(datasetId) });
    const paused = await h.api('POST', `/api/v1/training-jobs/${job.id}/pause`, { key: h.adminKey });
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');

    const again = await h.api('POST', `/api/v1/training-jobs/${job.id}/pause`, { key: h.adminKey });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/paused and cannot become paused/);

    const resumed = await h.api('POST', `/api/v1/training-jobs/${job.id}/resume`, { key: h.adminKey });
    expect(resumed.body.status).toBe('queued');

    const stopped = await h.api('POST', `/api/v1/training-jobs/${job.id}/stop`, { key: h.adminKey });
    expect(stopped.body.status).toBe('stopped');
    const resumeStopped = await h.api('POST', `/api/v1/training-jobs/${job.id}/resume`, { key: h.adminKey });
    expect(resumeStopped.status).toBe(409);
    expect(resumeStopped.body.message).toMatch(/stopped is final/);
  });

  it('asks the worker to pause a running job instead of changing its status', async () => {
    const { body: job } = await h.api('POST', '/api/v1/training-jobs', { key: h.adminKey, body: trainingJobBody(datasetId) });
    await h.ds.query(`UPDATE training_jobs SET status = 'running' WHERE id = $1`, [job.id]);
    const res = await h.api('POST', `/api/v1/training-jobs/${job.id}/pause`, { key: h.adminKey });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'running', desiredState: 'pause' });
  });

  it('refuses to delete a running job and deletes a finished one', async () => {
    const { body: job } = await h.api('POST', '/api/v1/training-jobs', { key: h.adminKey, body: trainingJobBody(datasetId) });
    await h.ds.query(`UPDATE training_jobs SET status = 'running' WHERE id = $1`, [job.id]);
    const refused = await h.api('DELETE', `/api/v1/training-jobs/${job.id}`, { key: h.adminKey });
    expect(refused.status).toBe(409);
    await h.ds.query(`UPDATE training_jobs SET status = 'completed' WHERE id = $1`, [job.id]);
    expect((await h.api('DELETE', `/api/v1/training-jobs/${job.id}`, { key: h.adminKey })).status).toBe(204);
    expect((await h.api('GET', `/api/v1/training-jobs/${job.id}`, { key: h.adminKey })).status).toBe(404);
  });
});
