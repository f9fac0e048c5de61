import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

/** Create, read, update and delete over REST for every resource, and the OpenAPI document. */

interface Row {
  id: string;
}
const ids = (items: Row[]) => items.map((i) => i.id);

describe('CRUD over REST', () => {
  let h: GatewayHarness;
  let member: string;

  beforeAll(async () => {
    h = await startGateway();
    member = await h.createKey('member', 'mia');
  });
  afterAll(() => h.close());

  /** Walks every page of a list and checks the page metadata on the way. */
  async function allPages(path: string, key: string, limit: number): Promise<{ items: Row[]; total: number }> {
    const items: Row[] = [];
    let total = -1;
    for (let offset = 0; ; offset += limit) {
      const res = await h.api('GET', `${path}?limit=${limit}&offset=${offset}`, { key });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ limit, offset });
      if (total === -1) total = res.body.total;
      expect(res.body.total).toBe(total);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      items.push(...res.body.items);
      if (offset + limit >= total) break;
    }
    return { items, total };
  }

  describe('workflows', () => {
    const graph = {
      nodes: [
        { id: 'data', type: 'dataset', config: { datasetName: 'chest-xray' } },
        { id: 'prep', type: 'preprocess', label: 'resize', position: { x: 10, y: 20 } },
        { id: 'train', type: 'train' },
      ],
      edges: [
        { source: 'data', target: 'prep' },
        { source: 'prep', target: 'train' },
      ],
    };

    it('creates, lists with pagination, gets, patches and deletes', async () => {
      const createdIds: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await h.api('POST', '/api/v1/workflows', { key: member, body: { name: `wf-${i}`, ...graph } });
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ name: `wf-${i}`, description: '', createdBy: 'mia', executionCount: 0, lastExecutedAt: null });
        expect(res.body.nodes).toEqual([
          { id: 'data', type: 'dataset', config: { datasetName: 'chest-xray' } },
          { id: 'prep', type: 'preprocess', label: 'resize', position: { x: 10, y: 20 }, config: {} },
          { id: 'train', type: 'train', config: {} },
        ]);
        createdIds.push(res.body.id);
      }

      // pagination: pages of 2 cover all 5 exactly once, newest first
      const { items, total } = await allPages('/api/v1/workflows', member, 2);
      expect(total).toBe(5);
      expect(ids(items)).toHaveLength(5);
      expect(new Set(ids(items))).toEqual(new Set(createdIds));
      const times = (items as Array<Row & { createdAt: string }>).map((w) => Date.parse(w.createdAt));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      const past = await h.api('GET', '/api/v1/workflows?limit=2&offset=10', { key: member });
      expect(past.body).toMatchObject({ items: [], total: 5 });

      const id = createdIds[0]!;
      const got = await h.api('GET', `/api/v1/workflows/${id}`, { key: member });
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id, name: 'wf-0', edges: graph.edges });

      const patched = await h.api('PATCH', `/api/v1/workflows/${id}`, {
        key: member,
        body: {
          nodes: [...graph.nodes, { id: 'eval', type: 'evaluate' }, { id: 'export', type: 'export', config: { format: 'onnx' } }],
          edges: [...graph.edges, { source: 'train', target: 'eval' }, { source: 'train', target: 'export' }],
        },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id, name: 'wf-0', createdBy: 'mia' });
      expect(patched.body.nodes.map((n: { id: string }) => n.id)).toEqual(['data', 'prep', 'train', 'eval', 'export']);
      expect(patched.body.edges).toHaveLength(4);
      const reread = await h.api('GET', `/api/v1/workflows/${id}`, { key: member });
      expect(reread.body.nodes).toEqual(patched.body.nodes);
      expect(reread.body.edges).toEqual(patched.body.edges);
      expect(Date.parse(reread.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(got.body.updatedAt));

      const renamed = await h.api('PATCH', `/api/v1/workflows/${id}`, { key: member, body: { name: 'renamed', description: 'now with eval' } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ name: 'renamed', description: 'now with eval' });
      expect(renamed.body.edges).toHaveLength(4);

      const deleted = await h.api('DELETE', `/api/v1/workflows/${id}`, { key: member });
      expect(deleted.status).toBe(204);
      expect((await h.api('GET', `/api/v1/workflows/${id}`, { key: member })).status).toBe(404);
      expect((await h.api('DELETE', `/api/v1/workflows/${id}`, { key: member })).status).toBe(404);
      expect((await h.api('PATCH', `/api/v1/workflows/${id}`, { key: member, body: { name: 'x' } })).status).toBe(404);
      expect((await h.api('GET', '/api/v1/workflows', { key: member })).body.total).toBe(4);
    });
  });

  describe('datasets', () => {
    it('registers with defaults, lists, gets and deletes', async () => {
      const res = await h.api('POST', '/api/v1/datasets', {
        key: member,
        body: { name: 'derm', dataPath: h.dataFolder('derm'), numSamples: 10, numClasses: 2, classDistribution: { benign: 6, malignant: 4 } },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        name: 'derm',
        description: '',
        dataPath: h.dataFolder('derm'),
        numSamples: 10,
        numClasses: 2,
        trainSamples: 0,
        valSamples: 0,
        testSamples: 0,
        classDistribution: { benign: 6, malignant: 4 },
        tags: [],
        createdBy: 'mia',
      });
      const id = res.body.id as string;
      const second = await registerDataset(h, member, 'second');

      const { items, total } = await allPages('/api/v1/datasets', member, 1);
      expect(total).toBeGreaterThanOrEqual(2);
      expect(ids(items)).toEqual(expect.arrayContaining([id, second]));
      expect(new Set(ids(items)).size).toBe(items.length);

      const got = await h.api('GET', `/api/v1/datasets/${id}`, { key: member });
      expect(got.status).toBe(200);
      expect(got.body).toEqual(res.body);

      expect((await h.api('DELETE', `/api/v1/datasets/${id}`, { key: member })).status).toBe(204);
      expect((await h.api('GET', `/api/v1/datasets/${id}`, { key: member })).status).toBe(404);
      expect((await h.api('DELETE', `/api/v1/datasets/${id}`, { key: member })).status).toBe(404);
    });

    it('refuses to delete a dataset (409) while a training job uses it', async () => {
      const id = await registerDataset(h, member, 'in-use');
      const job = await h.api('POST', '/api/v1/training-jobs', { key: member, body: trainingJobBody(id) });
      expect(job.status).toBe(201);

      const refused = await h.api('DELETE', `/api/v1/datasets/${id}`, { key: member });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ statusCode: 409, details: [{ field: 'id' }] });
      expect(refused.body.message).toContain('training job');
      expect((await h.api('GET', `/api/v1/datasets/${id}`, { key: member })).status).toBe(200);

      expect((await h.api('DELETE', `/api/v1/training-jobs/${job.body.id}`, { key: member })).status).toBe(204);
      expect((await h.api('DELETE', `/api/v1/datasets/${id}`, { key: member })).status).toBe(204);
    });
  });

  describe('models', () => {
    async function insertModel(name: string, createdBy: string): Promise<string> {
      const [row] = await h.ds.query(
        `INSERT INTO models (name, backbone, num_classes, input_shape, accuracy, loss, metrics, model_path, file_size, format, trained_epochs, created_by, tags)
         VALUES ($1, 'small_cnn', 2, '{"image":[64,64,1],"clinical":[12]}', 0.91, 0.23, '{"val_auc":0.95}', '/artifacts/models/m1', 123456789012, 'tfjs', 20, $2, '["xray"]')
         RETURNING id`,
        [name, createdBy],
      );
      return row.id as string;
    }

    it('lists, gets and deletes a model owned by the key', async () => {
      const id = await insertModel('fusion-v1', 'mia');
      const other = await insertModel('fusion-v2', 'mia');

      const { items, total } = await allPages('/api/v1/models', member, 1);
      expect(total).toBe(2);
      expect(new Set(ids(items))).toEqual(new Set([id, other]));

      const got = await h.api('GET', `/api/v1/models/${id}`, { key: member });
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({
        id,
        name: 'fusion-v1',
        backbone: 'small_cnn',
        numClasses: 2,
        inputShape: { image: [64, 64, 1], clinical: [12] },
        accuracy: 0.91,
        loss: 0.23,
        metrics: { val_auc: 0.95 },
        modelPath: '/artifacts/models/m1',
        fileSize: 123456789012,
        format: 'tfjs',
        trainedEpochs: 20,
        trainingJobId: null,
        createdBy: 'mia',
        tags: ['xray'],
      });

      expect((await h.api('DELETE', `/api/v1/models/${id}`, { key: member })).status).toBe(204);
      expect((await h.api('GET', `/api/v1/models/${id}`, { key: member })).status).toBe(404);
      expect((await h.ds.query('SELECT id FROM models WHERE id = $1', [id])).length).toBe(0);
      expect((await h.api('GET', '/api/v1/models', { key: member })).body.total).toBe(1);
    });
  });

  describe('api keys', () => {
    it('returns the secret once, never lists it, and a revoked key gets 401', async () => {
      const created = await h.api('POST', '/api/v1/api-keys', { key: h.adminKey, body: { name: 'ci pipeline', role: 'member', owner: 'ci-bot' } });
      expect(created.status).toBe(201);
      const secret = created.body.key as string;
      expect(secret).toMatch(/^mf_[A-Za-z0-9_-]{40,}$/);
      expect(created.body).toMatchObject({ name: 'ci pipeline', role: 'member', owner: 'ci-bot', createdBy: 'bootstrap-admin', revokedAt: null });
      expect(created.body.keyPrefix).toBe(secret.slice(0, 10));
      expect(created.body).not.toHaveProperty('keyHash');

      // the database keeps a hash, not the secret
      const [row] = await h.ds.query('SELECT key_hash FROM api_keys WHERE id = $1', [created.body.id]);
      expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row.key_hash).not.toContain(secret);

      // the key works, as its owner
      const ds = await registerDataset(h, secret, 'from-ci');
      expect((await h.api('GET', `/api/v1/datasets/${ds}`, { key: secret })).body.createdBy).toBe('ci-bot');

      const list = await h.api('GET', '/api/v1/api-keys', { key: h.adminKey });
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.body)).not.toContain(secret);
      for (const k of list.body as Array<Record<string, unknown>>) {
        expect(k).not.toHaveProperty('key');
        expect(k).not.toHaveProperty('keyHash');
      }
      expect(list.body).toEqual(expect.arrayContaining([expect.objectContaining({ id: created.body.id, keyPrefix: secret.slice(0, 10), revokedAt: null })]));
      expect(list.body.map((k: { owner: string }) => k.owner)).toEqual(expect.arrayContaining(['bootstrap-admin', 'mia', 'ci-bot']));

      const revoked = await h.api('DELETE', `/api/v1/api-keys/${created.body.id}`, { key: h.adminKey });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ id: created.body.id, owner: 'ci-bot' });
      expect(Number.isNaN(Date.parse(revoked.body.revokedAt))).toBe(false);
      expect(revoked.body).not.toHaveProperty('key');
      expect(revoked.body).not.toHaveProperty('keyHash');

      const denied = await h.api('GET', '/api/v1/datasets', { key: secret });
      expect(denied.status).toBe(401);
      expect(denied.body.details).toEqual([{ field: 'Authorization', message: 'unknown or revoked API key' }]);

      // revoking again keeps the first revocation time
      const again = await h.api('DELETE', `/api/v1/api-keys/${created.body.id}`, { key: h.adminKey });
      expect(again.status).toBe(200);
      expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
      const listed = (await h.api('GET', '/api/v1/api-keys', { key: h.adminKey })).body.find((k: Row) => k.id === created.body.id);
      expect(listed.revokedAt).toBe(revoked.body.revokedAt);
    });
  });

  describe('OpenAPI document', () => {
    const EXPECTED_OPERATIONS = [
      'post /api/v1/api-keys',
      'get /api/v1/api-keys',
      'delete /api/v1/api-keys/{id}',
      'post /api/v1/workflows',
      'get /api/v1/workflows',
      'get /api/v1/workflows/{id}',
      'patch /api/v1/workflows/{id}',
      'delete /api/v1/workflows/{id}',
      'post /api/v1/training-jobs',
      'get /api/v1/training-jobs',
      'get /api/v1/training-jobs/{id}',
      'delete /api/v1/training-jobs/{id}',
      'post /api/v1/training-jobs/{id}/pause',
      'post /api/v1/training-jobs/{id}/resume',
      'post /api/v1/training-jobs/{id}/stop',
      'get /api/v1/models',
      'get /api/v1/models/{id}',
      'delete /api/v1/models/{id}',
      'post /api/v1/datasets',
      'post /api/v1/datasets/upload',
      'get /api/v1/datasets',
      'get /api/v1/datasets/{id}',
      'delete /api/v1/datasets/{id}',
      'post /api/v1/sweeps',
      'get /api/v1/sweeps',
      'get /api/v1/sweeps/{id}',
      'get /api/v1/sweeps/{id}/trials',
      'post /api/v1/sweeps/{id}/trials',
      'post /api/v1/sweeps/{id}/stop',
    ];

    let doc: { openapi: string; paths: Record<string, Record<string, any>> };
    let documented: string[];

    beforeAll(async () => {
      const res = await h.api('GET', '/api/docs/openapi.json');
      expect(res.status).toBe(200);
      doc = res.body;
      documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    });

    it('documents every operation under /api/v1', () => {
      expect(documented).toEqual(expect.arrayContaining(EXPECTED_OPERATIONS));
    });

    it('documents every route the server actually serves under /api/v1', () => {
      // Express's routing table, as Nest registered it: nothing served is left out of the document.
      type Layer = { route?: { path: string; methods: Record<string, boolean> } };
      const router = (h.app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router;
      const served = router.stack
        .filter((l) => typeof l.route?.path === 'string' && l.route.path.startsWith('/api/v1/'))
        .flatMap((l) => Object.keys(l.route!.methods).map((m) => `${m} ${l.route!.path.replace(/:(\w+)/g, '{$1}')}`));
      expect(served.length).toBeGreaterThanOrEqual(EXPECTED_OPERATIONS.length);
      expect(documented).toEqual(expect.arrayContaining(served));
      expect(new Set(served)).toEqual(new Set(EXPECTED_OPERATIONS));
    });

    it('documents the training-job request body from its schema (epochs 1..10000)', () => {
      const post = doc.paths['/api/v1/training-jobs']!['post'];
      const schema = post.requestBody.content['application/json'].schema;
      expect(schema.required).toEqual(expect.arrayContaining(['name', 'dataConfig', 'trainingConfig']));
      expect(schema.additionalProperties).toBe(false);
      const epochs = schema.properties.trainingConfig.properties.epochs;
      expect(epochs).toMatchObject({ type: 'integer', minimum: 1, maximum: 10000 });
      expect(schema.properties.trainingConfig.required).toContain('epochs');
      expect(schema.properties.trainingConfig.properties.batchSize).toMatchObject({ minimum: 1, maximum: 4096 });
      expect(post.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]));
    });

    it('documents the query parameters of the lists', () => {
      const params = doc.paths['/api/v1/training-jobs']!['get'].parameters as Array<{ name: string; in: string; schema: Record<string, unknown> }>;
      const byName = Object.fromEntries(params.map((p) => [p.name, p]));
      expect(byName['limit']).toMatchObject({ in: 'query', schema: { minimum: 1, maximum: 100 } });
      expect(byName['offset']).toMatchObject({ in: 'query', schema: { minimum: 0 } });
      expect(byName['status']).toMatchObject({ in: 'query', schema: { enum: expect.arrayContaining(['queued', 'paused']) } });
    });
  });
});
