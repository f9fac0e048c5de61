import { randomUUID } from 'node:crypto';
import { createRedis, TrainingQueue } from '@medfusion/queue';
import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

/**
 * Bad input on every endpoint family: each request gets the exact 4xx, a JSON error whose message
 * and details name the offending field, never a 500, and never leaves a row behind.
 */

interface Ctx {
  datasetId: string;
  workflowId: string;
  trainingJobId: string;
}

interface BadRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string | ((c: Ctx) => string);
  body?: unknown | ((c: Ctx) => unknown);
  rawBody?: string;
  headers?: Record<string, string>;
  status: number;
  /** The `details[].field` expected; the message must name it too (`<field>: ...`). */
  field: string;
  /** More text the message must contain (an unknown key's name, the bound that was broken...). */
  mentions?: Array<string | ((c: Ctx) => string)>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
/** A well-formed UUID that no row has. */
const UNKNOWN_ID = randomUUID();

const dataset = (overrides: Record<string, unknown> = {}) => ({
  name: 'bad-dataset',
  dataPath: '/data/bad',
  numSamples: 100,
  numClasses: 2,
  ...overrides,
});

const job = (c: Ctx, overrides: Record<string, unknown> = {}) => trainingJobBody(c.datasetId, { name: 'bad-job', ...overrides });
const jobWithTraining = (c: Ctx, trainingConfig: Record<string, unknown>) =>
  job(c, { trainingConfig: { epochs: 3, batchSize: 16, learningRate: 0.001, ...trainingConfig } });

const workflow = (nodes: unknown, edges: unknown = []) => ({ name: 'bad-workflow', nodes, edges });
const n = (id: string, type = 'train') => ({ id, type });
const e = (source: string, target: string) => ({ source, target });

const CASES: Array<[string, BadRequest]> = [
  // --- bodies that never reach a schema
  ['malformed JSON', { method: 'POST', path: '/api/v1/datasets', rawBody: '{"name": "x",', headers: JSON_HEADERS, status: 400, field: 'body', mentions: ['malformed JSON'] }],
  [
    'wrong content type (text/plain)',
    { method: 'POST', path: '/api/v1/training-jobs', rawBody: 'epochs=3', headers: { 'content-type': 'text/plain' }, status: 415, field: 'body', mentions: ['application/json'] },
  ],
  [
    'body over the 1 MiB limit',
    { method: 'POST', path: '/api/v1/workflows', body: { ...workflow([]), description: 'x'.repeat(1024 * 1024 + 1) }, status: 413, field: 'body', mentions: ['1048576'] },
  ],
  ['JSON array instead of an object', { method: 'POST', path: '/api/v1/datasets', body: [dataset()], status: 400, field: 'body', mentions: ['expected object'] }],
  [
    'NUL character in a string (Postgres cannot store it)',
    { method: 'POST', path: '/api/v1/datasets', body: dataset({ name: 'chest\u0000xray' }), status: 400, field: 'body.name', mentions: ['NUL'] },
  ],
  [
    'unpaired surrogate in a string stored as jsonb',
    { method: 'POST', path: '/api/v1/datasets', body: dataset({ tags: ['ok', 'bad\ud800'] }), status: 400, field: 'body.tags.1', mentions: ['surrogate'] },
  ],
  [
    'JSON nested deeper than the limit',
    {
      method: 'POST',
      path: '/api/v1/workflows',
      rawBody: `{"name":"deep","nodes":[{"id":"a","type":"train","config":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}],"edges":[]}`,
      headers: JSON_HEADERS,
      status: 400,
      field: `body.nodes.0.config.x${'.0'.repeat(60)}`,
      mentions: ['nested more than 64 levels'],
    },
  ],

  // --- training jobs: out of range, wrong types, unknown and missing fields
  ['epochs 0', { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { epochs: 0 }), status: 400, field: 'body.trainingConfig.epochs', mentions: ['>=1'] }],
  ['epochs 10001', { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { epochs: 10001 }), status: 400, field: 'body.trainingConfig.epochs', mentions: ['<=10000'] }],
  ['epochs 2.5', { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { epochs: 2.5 }), status: 400, field: 'body.trainingConfig.epochs', mentions: ['int'] }],
  [
    'epochs as a string',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { epochs: '10' }), status: 400, field: 'body.trainingConfig.epochs', mentions: ['expected number, received string'] },
  ],
  ['learningRate 0', { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { learningRate: 0 }), status: 400, field: 'body.trainingConfig.learningRate', mentions: ['>0'] }],
  [
    'learningRate negative',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { learningRate: -0.01 }), status: 400, field: 'body.trainingConfig.learningRate', mentions: ['>0'] },
  ],
  ['batchSize 0', { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { batchSize: 0 }), status: 400, field: 'body.trainingConfig.batchSize', mentions: ['>=1'] }],
  ['batchSize 4097', { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { batchSize: 4097 }), status: 400, field: 'body.trainingConfig.batchSize', mentions: ['<=4096'] }],
  [
    'optimizer not offered',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { optimizer: 'lbfgs' }), status: 400, field: 'body.trainingConfig.optimizer', mentions: ['adam'] },
  ],
  [
    'nesterov without momentum',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => jobWithTraining(c, { optimizer: 'sgd', momentum: 0, nesterov: true }),
      status: 400,
      field: 'body.trainingConfig.nesterov',
      mentions: ['momentum > 0'],
    },
  ],
  [
    'nesterov with adamw',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { optimizer: 'adamw', nesterov: true }), status: 400, field: 'body.trainingConfig.nesterov', mentions: ['"sgd" only'] },
  ],
  [
    'gradientAccumulationSteps 0',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => jobWithTraining(c, { gradientAccumulationSteps: 0 }),
      status: 400,
      field: 'body.trainingConfig.gradientAccumulationSteps',
      mentions: ['at least 1'],
    },
  ],
  [
    'a column both numeric and categorical',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => job(c, { dataConfig: { datasetId: c.datasetId, clinicalColumns: ['age', 'sex'], categoricalColumns: ['sex'] } }),
      status: 400,
      field: 'body.dataConfig.categoricalColumns.0',
      mentions: ['"sex" is also in clinicalColumns'],
    },
  ],
  [
    'two views but three view columns',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => job(c, { modelConfig: { views: { count: 2 } }, dataConfig: { datasetId: c.datasetId, viewColumns: ['cc', 'mlo', 'ml'] } }),
      status: 400,
      field: 'body.dataConfig.viewColumns',
      mentions: ['views.count is 2', '3 viewColumns'],
    },
  ],
  [
    'attention supervision without a mask column',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => job(c, { modelConfig: { attentionSupervision: { type: 'cam', weight: 0.5 } } }),
      status: 400,
      field: 'body.dataConfig.maskColumn',
      mentions: ['needs dataConfig.maskColumn'],
    },
  ],
  [
    'resources.workers 0 (nested object)',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => jobWithTraining(c, { resources: { workers: 0 } }),
      status: 400,
      field: 'body.trainingConfig.resources.workers',
      mentions: ['>=1'],
    },
  ],
  [
    'modelConfig.numClasses 1',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => job(c, { modelConfig: { numClasses: 1 } }), status: 400, field: 'body.modelConfig.numClasses', mentions: ['>=2'] },
  ],
  [
    'modelConfig.numClasses 1001',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => job(c, { modelConfig: { numClasses: 1001 } }), status: 400, field: 'body.modelConfig.numClasses', mentions: ['<=1000'] },
  ],
  [
    'modelConfig.imageChannels 2',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => job(c, { modelConfig: { imageChannels: 2 } }), status: 400, field: 'body.modelConfig.imageChannels' },
  ],
  [
    'unknown top-level field',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => job(c, { priority: 'high' }), status: 400, field: 'body', mentions: ['unknown field(s): priority'] },
  ],
  [
    'unknown nested field trainingConfig.foo',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => jobWithTraining(c, { foo: 1 }), status: 400, field: 'body.trainingConfig', mentions: ['unknown field(s): foo'] },
  ],
  [
    'missing trainingConfig',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => job(c, { trainingConfig: undefined }), status: 400, field: 'body.trainingConfig', mentions: ['expected object'] },
  ],
  ['missing name', { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => job(c, { name: undefined }), status: 400, field: 'body.name', mentions: ['expected string'] }],
  [
    'datasetId that is not a UUID',
    { method: 'POST', path: '/api/v1/training-jobs', body: (c: Ctx) => job(c, { dataConfig: { datasetId: 'chest-xray' } }), status: 400, field: 'body.dataConfig.datasetId' },
  ],
  [
    'datasetId of no dataset',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => job(c, { dataConfig: { datasetId: UNKNOWN_ID } }),
      status: 400,
      field: 'body.dataConfig.datasetId',
      mentions: [UNKNOWN_ID],
    },
  ],
  [
    'Idempotency-Key longer than 255 characters',
    {
      method: 'POST',
      path: '/api/v1/training-jobs',
      body: (c: Ctx) => job(c),
      headers: { 'idempotency-key': 'k'.repeat(256) },
      status: 400,
      field: 'Idempotency-Key',
      mentions: ['255'],
    },
  ],
  ['training job id that is not a UUID', { method: 'GET', path: '/api/v1/training-jobs/42', status: 400, field: 'id', mentions: ['UUID'] }],
  ['GET unknown training job', { method: 'GET', path: `/api/v1/training-jobs/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['DELETE unknown training job', { method: 'DELETE', path: `/api/v1/training-jobs/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['pause unknown training job', { method: 'POST', path: `/api/v1/training-jobs/${UNKNOWN_ID}/pause`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['resume with an id that is not a UUID', { method: 'POST', path: '/api/v1/training-jobs/not-a-uuid/resume', status: 400, field: 'id', mentions: ['UUID'] }],
  ['list: status=bogus', { method: 'GET', path: '/api/v1/training-jobs?status=bogus', status: 400, field: 'query.status', mentions: ['queued'] }],
  ['list: limit=0', { method: 'GET', path: '/api/v1/training-jobs?limit=0', status: 400, field: 'query.limit', mentions: ['>=1'] }],
  ['list: limit=1000', { method: 'GET', path: '/api/v1/training-jobs?limit=1000', status: 400, field: 'query.limit', mentions: ['<=100'] }],
  ['list: offset=-1', { method: 'GET', path: '/api/v1/training-jobs?offset=-1', status: 400, field: 'query.offset', mentions: ['>=0'] }],
  ['list: unknown query param', { method: 'GET', path: '/api/v1/training-jobs?sort=name', status: 400, field: 'query', mentions: ['unknown field(s): sort'] }],

  // --- workflows: schema and graph errors
  ['workflow: nodes not an array', { method: 'POST', path: '/api/v1/workflows', body: workflow({ a: n('a') }), status: 400, field: 'body.nodes', mentions: ['expected array'] }],
  ['workflow: unknown node type', { method: 'POST', path: '/api/v1/workflows', body: workflow([n('a', 'teleport')]), status: 400, field: 'body.nodes.0.type', mentions: ['train'] }],
  ['workflow: node id with a space', { method: 'POST', path: '/api/v1/workflows', body: workflow([n('a b')]), status: 400, field: 'body.nodes.0.id' }],
  [
    'workflow: unknown field in a node',
    { method: 'POST', path: '/api/v1/workflows', body: workflow([{ ...n('a'), retries: 3 }]), status: 400, field: 'body.nodes.0', mentions: ['unknown field(s): retries'] },
  ],
  [
    'workflow: duplicate node ids',
    { method: 'POST', path: '/api/v1/workflows', body: workflow([n('a'), n('a', 'evaluate')]), status: 400, field: 'body.nodes.1.id', mentions: ['duplicate node id "a"'] },
  ],
  [
    'workflow: edge to an unknown node',
    { method: 'POST', path: '/api/v1/workflows', body: workflow([n('a')], [e('a', 'ghost')]), status: 400, field: 'body.edges.0.target', mentions: ['ghost'] },
  ],
  [
    'workflow: a cycle',
    {
      method: 'POST',
      path: '/api/v1/workflows',
      body: workflow([n('a'), n('b', 'evaluate'), n('c', 'export')], [e('a', 'b'), e('b', 'c'), e('c', 'a')]),
      status: 400,
      field: 'body.edges',
      mentions: ['cycle'],
    },
  ],
  ['workflow: a self loop', { method: 'POST', path: '/api/v1/workflows', body: workflow([n('a')], [e('a', 'a')]), status: 400, field: 'body.edges.0', mentions: ['self loop'] }],
  ['workflow: missing name', { method: 'POST', path: '/api/v1/workflows', body: { nodes: [], edges: [] }, status: 400, field: 'body.name' }],
  ['PATCH workflow: empty body', { method: 'PATCH', path: (c: Ctx) => `/api/v1/workflows/${c.workflowId}`, body: {}, status: 400, field: 'body', mentions: ['at least one field'] }],
  [
    'PATCH workflow: edges that join unknown nodes',
    { method: 'PATCH', path: (c: Ctx) => `/api/v1/workflows/${c.workflowId}`, body: { edges: [e('prep', 'nowhere')] }, status: 400, field: 'body.edges.0.target', mentions: ['nowhere'] },
  ],
  [
    'PATCH workflow: nodes that leave an edge dangling',
    { method: 'PATCH', path: (c: Ctx) => `/api/v1/workflows/${c.workflowId}`, body: { nodes: [n('prep', 'preprocess')] }, status: 400, field: 'body.edges.0.target', mentions: ['train'] },
  ],
  ['PATCH workflow: id that is not a UUID', { method: 'PATCH', path: '/api/v1/workflows/wf-1', body: { name: 'x' }, status: 400, field: 'id', mentions: ['UUID'] }],
  ['PATCH unknown workflow', { method: 'PATCH', path: `/api/v1/workflows/${UNKNOWN_ID}`, body: { name: 'x' }, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['GET unknown workflow', { method: 'GET', path: `/api/v1/workflows/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['DELETE unknown workflow', { method: 'DELETE', path: `/api/v1/workflows/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['workflows list: limit=abc', { method: 'GET', path: '/api/v1/workflows?limit=abc', status: 400, field: 'query.limit' }],

  // --- datasets: counts and types
  [
    'dataset: train+val+test > numSamples',
    { method: 'POST', path: '/api/v1/datasets', body: dataset({ trainSamples: 80, valSamples: 15, testSamples: 10 }), status: 400, field: 'body.numSamples', mentions: ['105'] },
  ],
  [
    'dataset: classDistribution does not sum to numSamples',
    { method: 'POST', path: '/api/v1/datasets', body: dataset({ classDistribution: { normal: 60, pneumonia: 30 } }), status: 400, field: 'body.classDistribution', mentions: ['90'] },
  ],
  [
    'dataset: more classes in classDistribution than numClasses',
    {
      method: 'POST',
      path: '/api/v1/datasets',
      body: dataset({ classDistribution: { a: 40, b: 30, c: 30 } }),
      status: 400,
      field: 'body.classDistribution',
      mentions: ['numClasses is 2'],
    },
  ],
  ['dataset: numClasses 0', { method: 'POST', path: '/api/v1/datasets', body: dataset({ numClasses: 0 }), status: 400, field: 'body.numClasses', mentions: ['>=1'] }],
  ['dataset: numSamples -1', { method: 'POST', path: '/api/v1/datasets', body: dataset({ numSamples: -1 }), status: 400, field: 'body.numSamples', mentions: ['>=0'] }],
  ['dataset: numSamples 1.5', { method: 'POST', path: '/api/v1/datasets', body: dataset({ numSamples: 1.5 }), status: 400, field: 'body.numSamples', mentions: ['int'] }],
  ['dataset: tags is a string', { method: 'POST', path: '/api/v1/datasets', body: dataset({ tags: 'xray' }), status: 400, field: 'body.tags', mentions: ['expected array'] }],
  ['dataset: missing dataPath', { method: 'POST', path: '/api/v1/datasets', body: dataset({ dataPath: undefined }), status: 400, field: 'body.dataPath' }],
  ['dataset: unknown field', { method: 'POST', path: '/api/v1/datasets', body: dataset({ owner: 'mallory' }), status: 400, field: 'body', mentions: ['unknown field(s): owner'] }],
  ['GET unknown dataset', { method: 'GET', path: `/api/v1/datasets/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['DELETE dataset with an id that is not a UUID', { method: 'DELETE', path: '/api/v1/datasets/chest-xray', status: 400, field: 'id', mentions: ['UUID'] }],
  ['datasets list: offset=-1', { method: 'GET', path: '/api/v1/datasets?offset=-1', status: 400, field: 'query.offset', mentions: ['>=0'] }],

  // --- models
  ['GET unknown model', { method: 'GET', path: `/api/v1/models/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['DELETE unknown model', { method: 'DELETE', path: `/api/v1/models/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['GET model with an id that is not a UUID', { method: 'GET', path: '/api/v1/models/123', status: 400, field: 'id', mentions: ['UUID'] }],
  ['models list: limit=0', { method: 'GET', path: '/api/v1/models?limit=0', status: 400, field: 'query.limit', mentions: ['>=1'] }],
  ['models list: unknown query param', { method: 'GET', path: '/api/v1/models?format=onnx', status: 400, field: 'query', mentions: ['unknown field(s): format'] }],

  // --- api keys
  ['api key: unknown role', { method: 'POST', path: '/api/v1/api-keys', body: { name: 'k', role: 'superuser', owner: 'carol' }, status: 400, field: 'body.role', mentions: ['viewer'] }],
  ['api key: owner with a space', { method: 'POST', path: '/api/v1/api-keys', body: { name: 'k', role: 'member', owner: 'carol smith' }, status: 400, field: 'body.owner' }],
  ['api key: missing name', { method: 'POST', path: '/api/v1/api-keys', body: { role: 'member', owner: 'carol' }, status: 400, field: 'body.name' }],
  ['api key: role as a number', { method: 'POST', path: '/api/v1/api-keys', body: { name: 'k', role: 1, owner: 'carol' }, status: 400, field: 'body.role' }],
  [
    'api key: unknown field',
    { method: 'POST', path: '/api/v1/api-keys', body: { name: 'k', role: 'member', owner: 'carol', expiresAt: '2030-01-01' }, status: 400, field: 'body', mentions: ['unknown field(s): expiresAt'] },
  ],
  ['revoke unknown api key', { method: 'DELETE', path: `/api/v1/api-keys/${UNKNOWN_ID}`, status: 404, field: 'id', mentions: [UNKNOWN_ID] }],
  ['revoke api key with an id that is not a UUID', { method: 'DELETE', path: '/api/v1/api-keys/key-1', status: 400, field: 'id', mentions: ['UUID'] }],
];

const TABLES = ['training_jobs', 'workflows', 'workflow_executions', 'datasets', 'models', 'api_keys', 'idempotency_keys'] as const;

describe('bad requests get a 4xx naming the field, and write nothing', () => {
  let h: GatewayHarness;
  let ctx: Ctx;
  let countsBefore: Record<string, number>;
  let queuedBefore: number;
  let workflowBefore: unknown;
  const statuses: Array<[string, number]> = [];

  async function countRows(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const t of TABLES) counts[t] = Number((await h.ds.query(`SELECT count(*)::int AS n FROM ${t}`))[0].n);
    return counts;
  }

  async function queuedJobs(): Promise<number> {
    const redis = createRedis(h.resources.redisUrl, 'producer');
    const queue = new TrainingQueue(redis, h.resources.redisPrefix);
    try {
      const counts = await queue.queue.getJobCounts();
      return Object.values(counts).reduce((a, b) => a + b, 0);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  }

  beforeAll(async () => {
    h = await startGateway();
    const datasetId = await registerDataset(h, h.adminKey);
    const wf = await h.api('POST', '/api/v1/workflows', {
      key: h.adminKey,
      body: { name: 'base', nodes: [n('prep', 'preprocess'), n('train')], edges: [e('prep', 'train')] },
    });
    expect(wf.status).toBe(201);
    const tj = await h.api('POST', '/api/v1/training-jobs', { key: h.adminKey, body: trainingJobBody(datasetId) });
    expect(tj.status).toBe(201);
    ctx = { datasetId, workflowId: wf.body.id, trainingJobId: tj.body.id };
    workflowBefore = (await h.api('GET', `/api/v1/workflows/${ctx.workflowId}`, { key: h.adminKey })).body;
    countsBefore = await countRows();
    queuedBefore = await queuedJobs();
  });
  afterAll(() => h.close());

  it('has a table of at least 35 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(35);
  });

  it.each(CASES)('%s', async (label, c) => {
    const path = typeof c.path === 'function' ? c.path(ctx) : c.path;
    const body = typeof c.body === 'function' ? (c.body as (x: Ctx) => unknown)(ctx) : c.body;
    const res = await h.api(c.method, path, { key: h.adminKey, body, rawBody: c.rawBody, headers: c.headers });
    statuses.push([label, res.status]);

    expect({ status: res.status, body: res.body }).toMatchObject({ status: c.status });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ statusCode: c.status, error: expect.any(String), message: expect.any(String), details: expect.any(Array) });
    const fields = (res.body.details as Array<{ field: string; message: string }>).map((d) => d.field);
    expect(fields).toContain(c.field);
    // The message names the field: "<field>: <problem>" for input errors, or the unknown id for 404s.
    if (c.status !== 404) expect(res.body.message).toContain(`${c.field}: `);
    for (const m of c.mentions ?? []) expect(res.body.message).toContain(typeof m === 'function' ? m(ctx) : m);
  });

  it('answered every case with a 4xx, never a 5xx', () => {
    expect(statuses).toHaveLength(CASES.length);
    const notClientErrors = statuses.filter(([, s]) => s < 400 || s >= 500);
    expect(notClientErrors).toEqual([]);
  });

  it('left no row behind in any table, and queued no job', async () => {
    expect(await countRows()).toEqual(countsBefore);
    expect(await queuedJobs()).toBe(queuedBefore);
  });

  it('left the workflow that failed PATCHes unchanged', async () => {
    const after = await h.api('GET', `/api/v1/workflows/${ctx.workflowId}`, { key: h.adminKey });
    expect(after.body).toEqual(workflowBefore);
  });
});
