import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { ApiResponse } from '@medfusion/testing';
import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

/**
 * Issue #17, item 2: paths a user gives (a dataset's dataPath, modelConfig.weightsPath, in training
 * jobs, sweeps' base jobs and workflow node configs) must lie under the data roots with symbolic
 * links resolved; stored weights are named by id and only the owner's (or any, for an admin); server
 * paths are shown to the owner and admins only.
 */
describe('paths a user gives are confined to the data roots', () => {
  let h: GatewayHarness;
  let outside: string;
  let alice: string;
  let bob: string;
  let viewer: string;
  let datasetId: string;

  beforeAll(async () => {
    h = await startGateway();
    // A folder outside every root, with a file that must never be reachable.
    outside = realpathSync(mkdtempSync(join(tmpdir(), 'mf-outside-')));
    writeFileSync(join(outside, 'secret.txt'), 'SECRET=hunter2\n');
    symlinkSync(outside, join(h.dataRoot, 'link-out'));
    symlinkSync('/etc', join(h.dataRoot, 'etc-link'));
    writeFileSync(join(h.dataRoot, 'weights.ckpt'), 'not really weights');
    symlinkSync(join(outside, 'secret.txt'), join(h.dataRoot, 'weights-link.ckpt'));
    [alice, bob, viewer] = await Promise.all([h.createKey('member', 'alice'), h.createKey('member', 'bob'), h.createKey('viewer', 'vera')]);
    datasetId = await registerDataset(h, alice, 'alices-data');
  });
  afterAll(async () => {
    await h.close();
    rmSync(outside, { recursive: true, force: true });
  });

  /** Every way out of the roots, as a member would write it. */
  const escapes = () => [
    ['an absolute path outside the roots', '/etc'],
    ['/root', '/root'],
    ['/proc/self/environ', '/proc/self/environ'],
    ['a relative path climbing out', relative(process.cwd(), join(h.dataRoot, '..', '..'))],
    ['"../.." under a root', `${h.dataRoot}/../..`],
    ['a link inside a root that leads out', join(h.dataRoot, 'link-out')],
    ['a file behind a link that leads out', join(h.dataRoot, 'link-out', 'secret.txt')],
    ['a link to /etc', join(h.dataRoot, 'etc-link', 'passwd')],
    ['a file:// URL', `file://${h.dataRoot}/weights.ckpt`],
    ['a file:// URL outside', 'file:///etc/passwd'],
  ];
  const count = async (table: string) => Number((await h.ds.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
  const expectRefused = (res: ApiResponse, field: string) => {
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 422, body: { details: [{ field }] } });
    expect(res.body.message).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: `));
    expect(res.body.message).not.toContain('hunter2');
    expect(res.body.message).not.toContain('root:x');
  };

  describe('POST /datasets dataPath', () => {
    it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])('refuses escape #%i with 422 naming body.dataPath and writes nothing', async (i) => {
      const [what, dataPath] = escapes()[i]!;
      const before = await count('datasets');
      const res = await h.api('POST', '/api/v1/datasets', { key: alice, body: { name: `escape ${what}`, dataPath, numSamples: 1, numClasses: 1 } });
      expectRefused(res, 'body.dataPath');
      expect(await count('datasets')).toBe(before);
    });

    it('refuses a path under a root that does not exist', async () => {
      const res = await h.api('POST', '/api/v1/datasets', { key: alice, body: { name: 'gone', dataPath: join(h.dataRoot, 'nope'), numSamples: 1, numClasses: 1 } });
      expectRefused(res, 'body.dataPath');
      expect(res.body.message).toMatch(/does not exist/);
    });

    it('accepts a folder under a root, through a link that stays inside, and records its real path', async () => {
      const real = h.dataFolder('real-data');
      symlinkSync(real, join(h.dataRoot, 'inside-link'));
      const res = await h.api('POST', '/api/v1/datasets', { key: alice, body: { name: 'linked', dataPath: join(h.dataRoot, 'inside-link'), numSamples: 1, numClasses: 1 } });
      expect(res.status).toBe(201);
      expect(res.body.dataPath).toBe(real);
    });
  });

  describe('modelConfig.weightsPath', () => {
    it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])('a training job: refuses escape #%i with 422 naming the field and writes nothing', async (i) => {
      const [, weightsPath] = escapes()[i]!;
      const before = await count('training_jobs');
      const res = await h.api('POST', '/api/v1/training-jobs', { key: alice, body: trainingJobBody(datasetId, { modelConfig: { weightsPath } }) });
      expectRefused(res, 'body.modelConfig.weightsPath');
      expect(await count('training_jobs')).toBe(before);
    });

    it('a training job: the link to a secret file is refused; a file under a root is accepted', async () => {
      const link = await h.api('POST', '/api/v1/training-jobs', { key: alice, body: trainingJobBody(datasetId, { modelConfig: { weightsPath: join(h.dataRoot, 'weights-link.ckpt') } }) });
      expectRefused(link, 'body.modelConfig.weightsPath');
      const ok = await h.api('POST', '/api/v1/training-jobs', { key: alice, body: trainingJobBody(datasetId, { modelConfig: { weightsPath: join(h.dataRoot, 'weights.ckpt') } }) });
      expect(ok.status).toBe(201);
    });

    it('a sweep base job: refused the same way, and not allowed as a search parameter', async () => {
      const sweep = (modelConfig: Record<string, unknown>, searchSpace: Record<string, unknown> = { 'trainingConfig.learningRate': { type: 'float', low: 1e-4, high: 0.1 } }) => ({
        name: 'weights sweep',
        searchSpace,
        objectives: [{ metric: 'val_auc', direction: 'maximize' }],
        budget: { maxTrials: 2 },
        baseTrainingJob: { modelConfig, dataConfig: { datasetId }, trainingConfig: { epochs: 1 } },
      });
      const before = await count('sweeps');
      expectRefused(await h.api('POST', '/api/v1/sweeps', { key: alice, body: sweep({ weightsPath: '/proc/self/environ' }) }), 'body.baseTrainingJob.modelConfig.weightsPath');
      expectRefused(await h.api('POST', '/api/v1/sweeps', { key: alice, body: sweep({ weightsPath: join(h.dataRoot, 'link-out', 'secret.txt') }) }), 'body.baseTrainingJob.modelConfig.weightsPath');
      const asParam = await h.api('POST', '/api/v1/sweeps', {
        key: alice,
        body: sweep({}, { 'modelConfig.weightsPath': { type: 'categorical', choices: ['/etc/passwd', join(h.dataRoot, 'weights.ckpt')] } }),
      });
      expect(asParam.status).toBe(400);
      expect(asParam.body.details).toEqual([expect.objectContaining({ field: 'body.searchSpace.modelConfig.weightsPath' })]);
      expect(await count('sweeps')).toBe(before);
    });

    it('a workflow node config: dataPath and weightsPath at any depth are refused the same way', async () => {
      const wf = (config: Record<string, unknown>) => ({ name: 'wf', nodes: [{ id: 'train', type: 'train', config }], edges: [] });
      const before = await count('workflows');
      expectRefused(await h.api('POST', '/api/v1/workflows', { key: alice, body: wf({ modelConfig: { weightsPath: '/etc/passwd' } }) }), 'body.nodes.0.config.modelConfig.weightsPath');
      expectRefused(await h.api('POST', '/api/v1/workflows', { key: alice, body: wf({ dataPath: 'file:///etc' }) }), 'body.nodes.0.config.dataPath');
      expect(await count('workflows')).toBe(before);
      const ok = await h.api('POST', '/api/v1/workflows', { key: alice, body: wf({ dataPath: h.dataFolder('wf-data') }) });
      expect(ok.status).toBe(201);
      const patched = await h.api('PATCH', `/api/v1/workflows/${ok.body.id}`, { key: alice, body: { nodes: [{ id: 't', type: 'train', config: { steps: [{ weightsPath: '/root/.ssh' }] } }] } });
      expectRefused(patched, 'body.nodes.0.config.steps.0.weightsPath');
    });
  });

  describe('modelConfig.initialWeights (stored weights by id)', () => {
    let aliceModel: string;
    let aliceCheckpoint: string;

    beforeAll(async () => {
      const [model] = await h.ds.query(
        `INSERT INTO models (name, backbone, num_classes, input_shape, model_path, format, created_by)
         VALUES ('alices-model', 'small_cnn', 2, '{}', '/var/artifacts/jobs/x/model/model.json', 'tfjs-layers', 'alice') RETURNING id`,
      );
      aliceModel = model.id;
      const job = await h.api('POST', '/api/v1/training-jobs', { key: alice, body: trainingJobBody(datasetId, { name: 'alices job' }) });
      const [ckpt] = await h.ds.query(
        `INSERT INTO training_checkpoints (job_id, epoch, step, checkpoint_path, file_size) VALUES ($1, 1, 0, '/var/artifacts/jobs/x/epoch-1.ckpt', 10) RETURNING id`,
        [job.body.id],
      );
      aliceCheckpoint = ckpt.id;
    });

    const submit = (key: string, initialWeights: unknown) => h.api('POST', '/api/v1/training-jobs', { key, body: trainingJobBody(datasetId, { modelConfig: { initialWeights } }) });

    it("refuses another owner's model or checkpoint to a member, as it refuses an unknown id, and writes nothing", async () => {
      const before = await count('training_jobs');
      expectRefused(await submit(bob, { modelId: aliceModel }), 'body.modelConfig.initialWeights.modelId');
      expectRefused(await submit(bob, { checkpointId: aliceCheckpoint }), 'body.modelConfig.initialWeights.checkpointId');
      const unknown = await submit(bob, { modelId: '00000000-0000-4000-8000-000000000000' });
      expectRefused(unknown, 'body.modelConfig.initialWeights.modelId');
      // Not-yours reads exactly like does-not-exist.
      const mine = await submit(bob, { modelId: aliceModel });
      expect(mine.body.message.replace(aliceModel, 'ID')).toBe(unknown.body.message.replace('00000000-0000-4000-8000-000000000000', 'ID'));
      expect(await count('training_jobs')).toBe(before);
    });

    it('lets the owner and an admin start from it; refuses a path and an id together, and a malformed reference', async () => {
      expect((await submit(alice, { modelId: aliceModel })).status).toBe(201);
      expect((await submit(alice, { checkpointId: aliceCheckpoint })).status).toBe(201);
      expect((await submit(h.adminKey, { checkpointId: aliceCheckpoint })).status).toBe(201);
      const both = await h.api('POST', '/api/v1/training-jobs', {
        key: alice,
        body: trainingJobBody(datasetId, { modelConfig: { initialWeights: { modelId: aliceModel }, weightsPath: join(h.dataRoot, 'weights.ckpt') } }),
      });
      expect(both.status).toBe(400);
      expect(both.body.details).toEqual([expect.objectContaining({ field: 'body.modelConfig.initialWeights' })]);
      expect((await submit(alice, { path: '/etc/passwd' })).status).toBe(400);
    });

    it("refuses another owner's checkpoint in a sweep's base job", async () => {
      const res = await h.api('POST', '/api/v1/sweeps', {
        key: bob,
        body: {
          name: 'on alices weights',
          searchSpace: { 'trainingConfig.learningRate': { type: 'float', low: 1e-4, high: 0.1 } },
          objectives: [{ metric: 'val_auc', direction: 'maximize' }],
          budget: { maxTrials: 1 },
          baseTrainingJob: { modelConfig: { initialWeights: { checkpointId: aliceCheckpoint } }, dataConfig: { datasetId }, trainingConfig: { epochs: 1 } },
        },
      });
      expectRefused(res, 'body.baseTrainingJob.modelConfig.initialWeights.checkpointId');
    });
  });

  describe('server paths are shown to the owner and admins only', () => {
    it("hides a dataset's dataPath and a model's modelPath from other members and viewers", async () => {
      const [model] = await h.ds.query(
        `INSERT INTO models (name, backbone, num_classes, input_shape, model_path, format, created_by)
         VALUES ('shown', 'small_cnn', 2, '{}', '/srv/artifacts/jobs/y/model', 'tfjs-layers', 'alice') RETURNING id`,
      );
      for (const [path, key] of [['dataPath', `/api/v1/datasets/${datasetId}`], ['modelPath', `/api/v1/models/${model.id}`]] as const) {
        for (const [who, k] of [['alice', alice], ['admin', h.adminKey]] as const) {
          const res = await h.api('GET', key, { key: k });
          expect({ who, has: typeof res.body[path] }).toEqual({ who, has: 'string' });
        }
        for (const [who, k] of [['bob', bob], ['viewer', viewer]] as const) {
          const res = await h.api('GET', key, { key: k });
          expect(res.status).toBe(200);
          expect({ who, has: path in res.body }).toEqual({ who, has: false });
          const list = await h.api('GET', `${key.slice(0, key.lastIndexOf('/'))}?limit=100`, { key: k });
          expect(list.body.items.filter((i: Record<string, unknown>) => path in i && i['createdBy'] !== 'bob')).toEqual([]);
        }
      }
    });

    it("hides a training job's modelPath, checkpointPath and weightsPath from a viewer, not from the owner or an admin", async () => {
      const job = await h.api('POST', '/api/v1/training-jobs', { key: alice, body: trainingJobBody(datasetId, { modelConfig: { weightsPath: join(h.dataRoot, 'weights.ckpt') } }) });
      await h.ds.query(`UPDATE training_jobs SET model_path = '/srv/m', checkpoint_path = '/srv/c' WHERE id = $1`, [job.body.id]);
      const seen = async (key: string) => (await h.api('GET', `/api/v1/training-jobs/${job.body.id}`, { key })).body;
      for (const key of [alice, h.adminKey]) {
        expect(await seen(key)).toMatchObject({ modelPath: '/srv/m', checkpointPath: '/srv/c', modelConfig: { weightsPath: join(h.dataRoot, 'weights.ckpt') } });
      }
      const byViewer = await seen(viewer);
      expect({ modelPath: 'modelPath' in byViewer, checkpointPath: 'checkpointPath' in byViewer, weightsPath: 'weightsPath' in byViewer.modelConfig }).toEqual({
        modelPath: false,
        checkpointPath: false,
        weightsPath: false,
      });
      const listed = (await h.api('GET', '/api/v1/training-jobs?limit=100', { key: viewer })).body.items.find((j: { id: string }) => j.id === job.body.id);
      expect(listed).toBeDefined();
      expect('modelPath' in listed || 'weightsPath' in listed.modelConfig).toBe(false);
    });

    it('hides dataPath in workflow node configs from a viewer', async () => {
      const dataPath = h.dataFolder('wf-shown');
      const wf = await h.api('POST', '/api/v1/workflows', { key: alice, body: { name: 'wf', nodes: [{ id: 'd', type: 'dataset', config: { dataPath } }], edges: [] } });
      expect((await h.api('GET', `/api/v1/workflows/${wf.body.id}`, { key: alice })).body.nodes[0].config).toEqual({ dataPath });
      expect((await h.api('GET', `/api/v1/workflows/${wf.body.id}`, { key: viewer })).body.nodes[0].config).toEqual({});
    });
  });

  it('keeps a dataset registered with a path the caller names relative to the working directory', async () => {
    const dir = h.dataFolder('relative');
    const res = await h.api('POST', '/api/v1/datasets', { key: alice, body: { name: 'relative', dataPath: relative(process.cwd(), dir), numSamples: 1, numClasses: 1 } });
    expect(res.status).toBe(201);
    expect(res.body.dataPath).toBe(dir);
  });
});
