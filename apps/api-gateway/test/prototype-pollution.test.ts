import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

/**
 * Own keys of the shared prototypes, in this realm and in Node's main one: under Jest the test runs
 * in a VM context, and structuredClone (used by the sweep schema) builds its objects in the main
 * realm, so a write through their `__proto__` lands on the main realm's Object.prototype.
 */
const prototypeKeys = () =>
  [Object.prototype, Array.prototype, Function.prototype, Object.getPrototypeOf(structuredClone({})) as object, Object.getPrototypeOf(structuredClone([])) as object].map((p) =>
    Reflect.ownKeys(p).map(String).sort(),
  );

/**
 * Issue #17, defect 1: a member's sweep whose search space named `modelConfig.__proto__.pp_marker`
 * was answered 400, but validating it wrote onto Object.prototype, and from then on every
 * authenticated request of every key got a 500 while /health/ready said ready.
 */
describe('no request can poison the gateway through a prototype', () => {
  let h: GatewayHarness;
  let member: string;
  let datasetId: string;
  const before = prototypeKeys();

  beforeAll(async () => {
    h = await startGateway();
    member = await h.createKey('member', 'mallory');
    datasetId = await registerDataset(h, h.adminKey);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** After every attack: the process is clean and still serves every key. */
  afterEach(async () => {
    expect(prototypeKeys()).toEqual(before);
    for (const key of [h.adminKey, member]) expect((await h.api('GET', '/api/v1/training-jobs', { key })).status).toBe(200);
    expect((await h.api('GET', '/health/ready')).status).toBe(200);
  });

  const sweep = (searchSpace: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    name: 'pollution',
    searchSpace,
    objectives: [{ metric: 'val_auc', direction: 'maximize' }],
    budget: { maxTrials: 2 },
    baseTrainingJob: { dataConfig: { datasetId }, trainingConfig: { epochs: 2 } },
    ...extra,
  });

  it.each([
    'modelConfig.__proto__.pp_marker',
    'trainingConfig.__proto__.pp_marker',
    'modelConfig.constructor.prototype.pp_marker',
    'dataConfig.prototype.pp_marker',
    'modelConfig.__proto__',
    '__proto__.pp_marker',
  ])('a search-space parameter %s is a 400 naming it', async (path) => {
    const res = await h.api('POST', '/api/v1/sweeps', { key: member, body: sweep({ [path]: { type: 'categorical', choices: ['x'] } }) });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: `body.searchSpace.${path}` })]));
    expect((await h.ds.query(`SELECT count(*)::int AS n FROM sweeps`))[0].n).toBe(0);
  });

  // Raw JSON: a JS object literal would turn "__proto__" into a prototype instead of a field.
  it.each([
    ['POST', '/api/v1/training-jobs', () => JSON.stringify(trainingJobBody(datasetId)).replace('"dataConfig":', '"modelConfig":{"__proto__":{"pp_marker":"x"}},"dataConfig":'), 'body.modelConfig.__proto__'],
    ['POST', '/api/v1/sweeps', () => JSON.stringify(sweep({ 'trainingConfig.learningRate': { type: 'float', low: 0.001, high: 0.1 } }, { enqueueTrials: [{}] })).replace('"enqueueTrials":[{}]', '"enqueueTrials":[{"__proto__":{"pp_marker":"x"}}]'), 'body.enqueueTrials.0.__proto__'],
    ['POST', '/api/v1/sweeps', () => JSON.stringify(sweep({ 'trainingConfig.learningRate': { type: 'float', low: 0.001, high: 0.1 } })).replace('"searchSpace":{', '"searchSpace":{"__proto__":{"type":"categorical","choices":["x"]},'), 'body.searchSpace.__proto__'],
    ['POST', '/api/v1/workflows', () => '{"name":"w","nodes":[{"id":"a","type":"dataset","config":{"__proto__":{"pp_marker":"x"}}}],"edges":[]}', 'body.nodes.0.config.__proto__'],
    ['POST', '/api/v1/api-keys', () => '{"__proto__":{"role":"admin"},"name":"k","role":"viewer","owner":"mallory"}', 'body.__proto__'],
  ])('%s %s with a "__proto__" field is a 400 naming it', async (method, path, raw, field) => {
    const key = path === '/api/v1/api-keys' ? h.adminKey : member;
    const res = await h.api(method, path, { key, rawBody: raw(), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field, message: expect.stringMatching(/not an allowed field name/) }]);
  });

  it('readiness fails, naming the property, once a shared prototype was changed, and recovers when it is gone', async () => {
    const polluted = Object.prototype as unknown as Record<string, unknown>;
    try {
      polluted['pp_marker'] = 'x';
      const res = await h.api('GET', '/health/ready');
      expect(res.status).toBe(503);
      expect(res.body.checks.prototypes).toEqual({ status: 'error', error: expect.stringContaining('Object.prototype gained pp_marker') });
    } finally {
      delete polluted['pp_marker'];
    }
  });
});
