import { jest } from '@jest/globals';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generateSyntheticDataset } from '@medfusion/fusion';
import { createRedis, TrainingQueue } from '@medfusion/queue';
import {
  apiClient,
  envForChild,
  freePort,
  isolatedResources,
  startAppProcess,
  waitFor,
  waitForHttpOk,
  type ApiClient,
  type AppProcess,
  type IsolatedResources,
} from '@medfusion/testing';

/**
 * Issue #17, item 2, where the files are opened: the gateway accepted these paths while they lay
 * under the data root, then links were changed to lead out (or the data set's own files lead out).
 * The gpu-worker must check again, fail the job saying why, and its error must quote nothing of
 * the files outside. Real gateway and gpu-worker processes; the worker starts only once every link
 * is in place, so it sees the changed links.
 */
jest.setTimeout(180_000);

const SECRETS = ['hunter2', 'SECRET', 'TOPSECRET'];

describe('the gpu-worker confines the files it opens to the data roots', () => {
  let r: IsolatedResources;
  let workDir: string;
  let root: string;
  let outside: string;
  let api: ApiClient;
  let member: string;
  const procs: AppProcess[] = [];
  const jobs: Record<string, string> = {};
  let goodDataset: string;

  const env = (extra: Record<string, string>) => envForChild(r, { DATA_ROOTS: root, ARTIFACTS_DIR: join(workDir, 'artifacts'), ...extra });

  async function register(name: string, dataPath: string): Promise<string> {
    const res = await api('POST', '/api/v1/datasets', { key: member, body: { name, dataPath, numSamples: 40, numClasses: 2 } });
    if (res.status !== 201) throw new Error(`registering ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }

  async function submit(datasetId: string, modelConfig: Record<string, unknown> = {}): Promise<string> {
    const res = await api('POST', '/api/v1/training-jobs', {
      key: member,
      body: {
        name: 'confined',
        dataConfig: { datasetId },
        modelConfig: { imageSize: 32, convFilters: [4], imageFeatureSize: 4, clinicalHiddenSize: 4, fusedSize: 4, dropout: 0, ...modelConfig },
        trainingConfig: { epochs: 1, batchSize: 16 },
      },
    });
    if (res.status !== 201) throw new Error(`submitting: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }

  /** The job's end: it must fail (never train on files from outside) with an error that says why. */
  const outcome = (id: string) =>
    waitFor(
      `job ${id} to end`,
      async () => {
        const job = (await api('GET', `/api/v1/training-jobs/${id}`, { key: member })).body;
        return ['failed', 'completed'].includes(job.status) ? (job as { status: string; error: string | null }) : null;
      },
      90_000,
      250,
    );

  beforeAll(async () => {
    r = await isolatedResources();
    workDir = mkdtempSync(join(tmpdir(), 'mf-confine-'));
    root = join(workDir, 'root');
    outside = join(workDir, 'outside');
    mkdirSync(root);
    mkdirSync(join(outside, 'ds'), { recursive: true });
    // What lies outside: a CSV whose header and cells are secrets, a file like /proc/self/environ, an image.
    writeFileSync(join(outside, 'ds', 'clinical.csv'), 'SECRET_COLUMN_hunter2,label,split\nTOPSECRET_CELL,0,train\n');
    writeFileSync(join(outside, 'environ'), 'SECRET=hunter2\0PATH=/usr/bin\0');
    await generateSyntheticDataset({ outDir: join(root, 'good'), numCases: 40, seed: 5, imageSize: 32 });
    copyFileSync(join(root, 'good', 'images', 'case_00001.png'), join(outside, 'outside.png'));

    const port = await freePort();
    const gateway = startAppProcess('api-gateway', env({ GATEWAY_PORT: String(port) }));
    procs.push(gateway);
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, gateway);
    api = apiClient(`http://127.0.0.1:${port}`);
    member = (await api('POST', '/api/v1/api-keys', { key: r.adminKey, body: { name: 'mallory', role: 'member', owner: 'mallory' } })).body.key as string;

    // 1. A data set folder, later swapped for a link to a folder outside.
    mkdirSync(join(root, 'swapped'));
    jobs['swapped folder'] = await submit(await register('swapped', join(root, 'swapped')));
    rmSync(join(root, 'swapped'), { recursive: true });
    symlinkSync(join(outside, 'ds'), join(root, 'swapped'));

    // 2. A folder under the root whose CSV is a link out.
    mkdirSync(join(root, 'csv-link'));
    symlinkSync(join(outside, 'ds', 'clinical.csv'), join(root, 'csv-link', 'clinical.csv'));
    jobs['CSV linked out'] = await submit(await register('csv-link', join(root, 'csv-link')));

    // 3. A good data set whose CSV names an image outside the roots by absolute path.
    await generateSyntheticDataset({ outDir: join(root, 'image-out'), numCases: 40, seed: 5, imageSize: 32 });
    const csv = join(root, 'image-out', 'clinical.csv');
    writeFileSync(csv, readFileSync(csv, 'utf8').replace('images/case_00001.png', join(outside, 'outside.png')));
    jobs['image outside'] = await submit(await register('image-out', join(root, 'image-out')));

    // 4. A weights file under the root, later swapped for a link to an environ-like file outside.
    const good = await register('good', join(root, 'good'));
    goodDataset = good;
    writeFileSync(join(root, 'weights.ckpt'), 'placeholder');
    jobs['weights swapped'] = await submit(good, { weightsPath: join(root, 'weights.ckpt') });
    rmSync(join(root, 'weights.ckpt'));
    symlinkSync(join(outside, 'environ'), join(root, 'weights.ckpt'));

    const health = await freePort();
    const worker = startAppProcess('gpu-worker', env({ GPU_WORKER_HEALTH_PORT: String(health), WORKER_ID: 'confined-worker' }));
    procs.push(worker);
    await waitForHttpOk(`http://127.0.0.1:${health}/health/ready`, worker);
  });

  afterAll(async () => {
    procs.forEach((p) => p.kill());
    await r?.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  });

  it.each([
    ['swapped folder', /dataPath ".*swapped" leads outside the data roots through a symbolic link/],
    ['CSV linked out', /clinical\.csv.* leads outside the data roots through a symbolic link/],
    ['image outside', /outside\.png" is outside the data roots/],
    ['weights swapped', /modelConfig\.weightsPath ".*weights\.ckpt" leads outside the data roots through a symbolic link/],
  ])('%s: the job fails saying why, quoting nothing from outside', async (name, reason) => {
    const job = await outcome(jobs[name]!);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'failed', error: expect.stringMatching(reason) });
    for (const secret of SECRETS) expect(job.error).not.toContain(secret);
  });

  it('starts from a stored model or checkpoint named by id (modelConfig.initialWeights), read from the artifact store', async () => {
    const first = await outcome(await submit(goodDataset));
    expect(first.status).toBe('completed');
    const done = (await api('GET', '/api/v1/models?limit=100', { key: member })).body.items as Array<{ id: string; createdBy: string }>;
    const model = done.find((m) => m.createdBy === 'mallory')!;
    expect(model).toBeDefined();
    const [firstJob] = (await api('GET', '/api/v1/training-jobs?status=completed', { key: member })).body.items as Array<{ id: string }>;
    const read = new pg.Client({ connectionString: r.databaseUrl });
    await read.connect();
    const [ckpt] = (await read.query('SELECT id FROM training_checkpoints WHERE job_id = $1 LIMIT 1', [firstJob!.id])).rows as Array<{ id: string }>;
    await read.end();
    const db = new pg.Client({ connectionString: r.databaseUrl });
    for (const initialWeights of [{ modelId: model.id }, { checkpointId: ckpt!.id }]) {
      const job = await outcome(await submit(goodDataset, { initialWeights }));
      expect({ initialWeights, status: job.status, error: job.error }).toEqual({ initialWeights, status: 'completed', error: null });
    }
    // The stored file really is read: weights of another shape do not fit, and the error names the field.
    const misfit = await outcome(await submit(goodDataset, { initialWeights: { modelId: model.id }, convFilters: [6] }));
    expect(misfit).toMatchObject({ status: 'failed', error: expect.stringMatching(/modelConfig\.initialWeights\.modelId does not fit the model: weight "image_conv1\/kernel"/) });

    // A job of another member's that names mallory's model without passing the gateway (an old row,
    // a bug elsewhere): the worker checks the owner's rights again and does not read the file.
    await db.connect();
    const [eve] = (
      await db.query(
        `INSERT INTO training_jobs (name, model_config, data_config, training_config, dataset_id, status, total_epochs, owner)
         SELECT 'eve', model_config || jsonb_build_object('initialWeights', jsonb_build_object('modelId', $2::text)), data_config, training_config, dataset_id, 'queued', total_epochs, 'eve'
         FROM training_jobs WHERE id = $1 RETURNING id`,
        [firstJob!.id, model.id],
      )
    ).rows as Array<{ id: string }>;
    await db.end();
    const redis = createRedis(r.redisUrl, 'producer');
    const queue = new TrainingQueue(redis, r.redisPrefix);
    await queue.enqueue(eve!.id);
    await queue.close();
    redis.disconnect();
    const refused = (await waitFor('eve\'s job to fail', async () => {
      const job = (await api('GET', `/api/v1/training-jobs/${eve!.id}`, { key: r.adminKey })).body;
      return job.status === 'failed' || job.status === 'completed' ? job : null;
    }, 60_000, 250)) as { status: string; error: string };
    expect(refused).toMatchObject({ status: 'failed', error: expect.stringMatching(new RegExp(`initialWeights\\.modelId: no model with id ${model.id} whose weights eve may use`)) });
  });
});
