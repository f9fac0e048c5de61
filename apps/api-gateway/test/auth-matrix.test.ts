import type { ApiResponse } from '@medfusion/testing';
import { registerDataset, startGateway, trainingJobBody, type GatewayHarness } from './gateway-harness.js';

/**
 * Who may do what (libs/domain/src/access-policy.ts), checked over REST: admin everything; a member
 * creates, reads the shared catalogue (datasets, models) and only its own training jobs and
 * workflows, and changes only what it owns; a viewer reads everything and writes nothing; api-keys
 * is admin only. Every owned resource below belongs to the member "alice".
 *
 * 404 or 403: a caller that may not read a resource (bob on alice's job or workflow) gets the 404 of
 * an unknown id, so it cannot tell the resource exists; 403 is for a caller that may read it but not
 * change it (a viewer; bob on a catalogue item of alice's).
 */

type Caller = 'admin' | 'alice' | 'bob' | 'viewer';
const CALLERS: Caller[] = ['admin', 'alice', 'bob', 'viewer'];
const CALLER_NAMES: Record<Caller, string> = { admin: 'admin', alice: 'member alice (owner)', bob: 'member bob (not owner)', viewer: 'viewer' };

interface Env {
  h: GatewayHarness;
  keys: Record<Caller, string>;
  datasetId: string;
}

interface Action {
  family: string;
  action: string;
  expected: Record<Caller, number>;
  /** Makes what the action works on, owned by alice (a fresh one per test). */
  prepare?: (env: Env) => Promise<string>;
  call: (env: Env, key: string, id: string) => Promise<ApiResponse>;
  /** Extra checks after the call: what a caller sees, or that a refused write changed nothing. */
  verify?: (env: Env, caller: Caller, res: ApiResponse, id: string) => Promise<void>;
}

const ALL = (status: number): Record<Caller, number> => ({ admin: status, alice: status, bob: status, viewer: status });
const OWNER_OR_ADMIN = (ok: number): Record<Caller, number> => ({ admin: ok, alice: ok, bob: 403, viewer: 403 });
/** Changing an owned resource: bob may not even read it, so he gets 404. */
const OWNED_CHANGE = (ok: number): Record<Caller, number> => ({ admin: ok, alice: ok, bob: 404, viewer: 403 });
const WRITERS = (ok: number): Record<Caller, number> => ({ admin: ok, alice: ok, bob: ok, viewer: 403 });
const READ_OWNED: Record<Caller, number> = { admin: 200, alice: 200, bob: 404, viewer: 200 };
const ADMIN_ONLY = (ok: number): Record<Caller, number> => ({ admin: ok, alice: 403, bob: 403, viewer: 403 });

async function created(res: ApiResponse, what: string): Promise<string> {
  if (res.status !== 201) throw new Error(`could not create ${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

const workflowBody = (name: string) => ({
  name,
  nodes: [
    { id: 'data', type: 'dataset' },
    { id: 'train', type: 'train' },
  ],
  edges: [{ source: 'data', target: 'train' }],
});

const newWorkflow = (env: Env, owner: 'alice' | 'bob' = 'alice') =>
  env.h.api('POST', '/api/v1/workflows', { key: env.keys[owner], body: workflowBody(`wf-${owner}`) }).then((r) => created(r, 'workflow'));
const newJob = (env: Env, owner: 'alice' | 'bob' = 'alice') =>
  env.h.api('POST', '/api/v1/training-jobs', { key: env.keys[owner], body: trainingJobBody(env.datasetId, { name: `job-${owner}` }) }).then((r) => created(r, 'job'));
const newDataset = (env: Env, owner: 'alice' | 'bob' = 'alice') => registerDataset(env.h, env.keys[owner], `ds-${owner}`);
async function newModel(env: Env, owner: 'alice' | 'bob' = 'alice'): Promise<string> {
  const [row] = await env.h.ds.query(
    `INSERT INTO models (name, backbone, num_classes, input_shape, model_path, format, created_by)
     VALUES ($1, 'small_cnn', 2, '{"image":[64,64,1],"clinical":[8]}', '/artifacts/m', 'tfjs', $2) RETURNING id`,
    [`model-${owner}`, owner],
  );
  return row.id as string;
}

const statusOf = async (env: Env, path: string) => (await env.h.api('GET', path, { key: env.keys.admin })).status;
const jobStatus = async (env: Env, id: string) => (await env.h.api('GET', `/api/v1/training-jobs/${id}`, { key: env.keys.admin })).body.status as string;

/** Lists: members see their own owned resources only; the catalogue is shared. */
function verifyList(path: string, shared: boolean, makeBobs: (env: Env) => Promise<string>) {
  return async (env: Env, caller: Caller, res: ApiResponse, aliceId: string) => {
    const bobId = await makeBobs(env);
    const again = await env.h.api('GET', `${path}?limit=100`, { key: env.keys[caller] });
    expect(again.status).toBe(200);
    const ids = (again.body.items as Array<{ id: string }>).map((i) => i.id);
    expect(again.body.total).toBe(ids.length);
    const seesAlice = shared || caller !== 'bob';
    const seesBob = shared || caller !== 'alice';
    expect({ alice: ids.includes(aliceId), bob: ids.includes(bobId) }).toEqual({ alice: seesAlice, bob: seesBob });
    expect(Array.isArray(res.body.items)).toBe(true);
  };
}

/** A refused write left the resource as it was. */
const stillThere = (path: (id: string) => string) => async (env: Env, _c: Caller, res: ApiResponse, id: string) => {
  expect(await statusOf(env, path(id))).toBe(res.status === 204 ? 404 : 200);
};

const ACTIONS: Action[] = [
  // --- workflows (owned)
  {
    family: 'workflows',
    action: 'list',
    expected: ALL(200),
    prepare: (env) => newWorkflow(env),
    call: (env, key) => env.h.api('GET', '/api/v1/workflows?limit=100', { key }),
    verify: verifyList('/api/v1/workflows', false, (env) => newWorkflow(env, 'bob')),
  },
  {
    family: 'workflows',
    action: 'get',
    expected: READ_OWNED,
    prepare: (env) => newWorkflow(env),
    call: (env, key, id) => env.h.api('GET', `/api/v1/workflows/${id}`, { key }),
    verify: async (_env, _c, res, id) => {
      if (res.status === 200) expect(res.body).toMatchObject({ id, createdBy: 'alice' });
    },
  },
  {
    family: 'workflows',
    action: 'create',
    expected: WRITERS(201),
    call: (env, key) => env.h.api('POST', '/api/v1/workflows', { key, body: workflowBody('new') }),
    verify: async (env, caller, res) => {
      if (res.status === 201) expect(res.body.createdBy).toBe(caller === 'admin' ? 'bootstrap-admin' : caller);
      else expect(Number((await env.h.ds.query(`SELECT count(*)::int AS n FROM workflows WHERE created_by = 'viewer'`))[0].n)).toBe(0);
    },
  },
  {
    family: 'workflows',
    action: 'update (PATCH)',
    expected: OWNED_CHANGE(200),
    prepare: (env) => newWorkflow(env),
    call: (env, key, id) => env.h.api('PATCH', `/api/v1/workflows/${id}`, { key, body: { name: 'renamed', nodes: [{ id: 'only', type: 'train' }], edges: [] } }),
    verify: async (env, _c, res, id) => {
      const after = await env.h.api('GET', `/api/v1/workflows/${id}`, { key: env.keys.admin });
      expect(after.body.name).toBe(res.status === 200 ? 'renamed' : 'wf-alice');
      expect(after.body.nodes).toHaveLength(res.status === 200 ? 1 : 2);
    },
  },
  {
    family: 'workflows',
    action: 'delete',
    expected: OWNED_CHANGE(204),
    prepare: (env) => newWorkflow(env),
    call: (env, key, id) => env.h.api('DELETE', `/api/v1/workflows/${id}`, { key }),
    verify: stillThere((id) => `/api/v1/workflows/${id}`),
  },

  // --- training jobs (owned)
  {
    family: 'training-jobs',
    action: 'list',
    expected: ALL(200),
    prepare: (env) => newJob(env),
    call: (env, key) => env.h.api('GET', '/api/v1/training-jobs?limit=100', { key }),
    verify: verifyList('/api/v1/training-jobs', false, (env) => newJob(env, 'bob')),
  },
  {
    family: 'training-jobs',
    action: 'get',
    expected: READ_OWNED,
    prepare: (env) => newJob(env),
    call: (env, key, id) => env.h.api('GET', `/api/v1/training-jobs/${id}`, { key }),
    verify: async (_env, _c, res, id) => {
      if (res.status === 200) expect(res.body).toMatchObject({ id, owner: 'alice' });
    },
  },
  {
    family: 'training-jobs',
    action: 'create',
    expected: WRITERS(201),
    call: (env, key) => env.h.api('POST', '/api/v1/training-jobs', { key, body: trainingJobBody(env.datasetId, { name: 'new' }) }),
    verify: async (env, caller, res) => {
      if (res.status === 201) expect(res.body).toMatchObject({ owner: caller === 'admin' ? 'bootstrap-admin' : caller, status: 'queued' });
      else expect(Number((await env.h.ds.query(`SELECT count(*)::int AS n FROM training_jobs WHERE owner = 'viewer'`))[0].n)).toBe(0);
    },
  },
  {
    family: 'training-jobs',
    action: 'pause',
    expected: OWNED_CHANGE(200),
    prepare: (env) => newJob(env),
    call: (env, key, id) => env.h.api('POST', `/api/v1/training-jobs/${id}/pause`, { key }),
    verify: async (env, _c, res, id) => expect(await jobStatus(env, id)).toBe(res.status === 200 ? 'paused' : 'queued'),
  },
  {
    family: 'training-jobs',
    action: 'resume',
    expected: OWNED_CHANGE(200),
    prepare: async (env) => {
      const id = await newJob(env);
      const paused = await env.h.api('POST', `/api/v1/training-jobs/${id}/pause`, { key: env.keys.alice });
      if (paused.status !== 200) throw new Error(`could not pause: ${JSON.stringify(paused.body)}`);
      return id;
    },
    call: (env, key, id) => env.h.api('POST', `/api/v1/training-jobs/${id}/resume`, { key }),
    verify: async (env, _c, res, id) => expect(await jobStatus(env, id)).toBe(res.status === 200 ? 'queued' : 'paused'),
  },
  {
    family: 'training-jobs',
    action: 'stop',
    expected: OWNED_CHANGE(200),
    prepare: (env) => newJob(env),
    call: (env, key, id) => env.h.api('POST', `/api/v1/training-jobs/${id}/stop`, { key }),
    verify: async (env, _c, res, id) => expect(await jobStatus(env, id)).toBe(res.status === 200 ? 'stopped' : 'queued'),
  },
  {
    family: 'training-jobs',
    action: 'delete',
    expected: OWNED_CHANGE(204),
    prepare: (env) => newJob(env),
    call: (env, key, id) => env.h.api('DELETE', `/api/v1/training-jobs/${id}`, { key }),
    verify: stillThere((id) => `/api/v1/training-jobs/${id}`),
  },

  // --- datasets (catalogue)
  {
    family: 'datasets',
    action: 'list',
    expected: ALL(200),
    prepare: (env) => newDataset(env),
    call: (env, key) => env.h.api('GET', '/api/v1/datasets?limit=100', { key }),
    verify: verifyList('/api/v1/datasets', true, (env) => newDataset(env, 'bob')),
  },
  {
    family: 'datasets',
    action: 'get',
    expected: ALL(200),
    prepare: (env) => newDataset(env),
    call: (env, key, id) => env.h.api('GET', `/api/v1/datasets/${id}`, { key }),
    verify: async (_env, _c, res, id) => expect(res.body).toMatchObject({ id, createdBy: 'alice' }),
  },
  {
    family: 'datasets',
    action: 'create',
    expected: WRITERS(201),
    call: (env, key) =>
      env.h.api('POST', '/api/v1/datasets', { key, body: { name: 'new', dataPath: env.h.dataFolder('new'), numSamples: 10, numClasses: 2 } }),
  },
  {
    family: 'datasets',
    action: 'delete',
    expected: OWNER_OR_ADMIN(204),
    prepare: (env) => newDataset(env),
    call: (env, key, id) => env.h.api('DELETE', `/api/v1/datasets/${id}`, { key }),
    verify: stillThere((id) => `/api/v1/datasets/${id}`),
  },
  {
    // Who may delete is decided before whether the dataset is in use: a non-owner learns nothing.
    family: 'datasets',
    action: 'delete while a training job uses it',
    expected: { admin: 409, alice: 409, bob: 403, viewer: 403 },
    prepare: async (env) => {
      const id = await newDataset(env);
      await created(await env.h.api('POST', '/api/v1/training-jobs', { key: env.keys.alice, body: trainingJobBody(id) }), 'job');
      return id;
    },
    call: (env, key, id) => env.h.api('DELETE', `/api/v1/datasets/${id}`, { key }),
    verify: stillThere((id) => `/api/v1/datasets/${id}`),
  },

  // --- models (catalogue; rows come from workers, so the tests insert them)
  {
    family: 'models',
    action: 'list',
    expected: ALL(200),
    prepare: (env) => newModel(env),
    call: (env, key) => env.h.api('GET', '/api/v1/models?limit=100', { key }),
    verify: verifyList('/api/v1/models', true, (env) => newModel(env, 'bob')),
  },
  {
    family: 'models',
    action: 'get',
    expected: ALL(200),
    prepare: (env) => newModel(env),
    call: (env, key, id) => env.h.api('GET', `/api/v1/models/${id}`, { key }),
    verify: async (_env, _c, res, id) => expect(res.body).toMatchObject({ id, createdBy: 'alice', backbone: 'small_cnn' }),
  },
  {
    family: 'models',
    action: 'delete',
    expected: OWNER_OR_ADMIN(204),
    prepare: (env) => newModel(env),
    call: (env, key, id) => env.h.api('DELETE', `/api/v1/models/${id}`, { key }),
    verify: stillThere((id) => `/api/v1/models/${id}`),
  },

  // --- api keys (admin only)
  {
    family: 'api-keys',
    action: 'create',
    expected: ADMIN_ONLY(201),
    call: (env, key) => env.h.api('POST', '/api/v1/api-keys', { key, body: { name: 'made in matrix', role: 'admin', owner: 'escalated' } }),
    verify: async (env, _c, res) => {
      const [{ n }] = await env.h.ds.query(`SELECT count(*)::int AS n FROM api_keys WHERE owner = 'escalated'`);
      if (res.status !== 201) expect(n).toBe(0);
      else expect(res.body.key).toMatch(/^mf_/);
      await env.h.ds.query(`DELETE FROM api_keys WHERE owner = 'escalated'`);
    },
  },
  {
    family: 'api-keys',
    action: 'list',
    expected: ADMIN_ONLY(200),
    call: (env, key) => env.h.api('GET', '/api/v1/api-keys', { key }),
    verify: async (_env, _c, res) => {
      if (res.status === 200) expect(res.body.length).toBeGreaterThanOrEqual(4);
      else expect(Array.isArray(res.body)).toBe(false);
    },
  },
  {
    family: 'api-keys',
    action: 'revoke',
    expected: ADMIN_ONLY(200),
    prepare: async (env) => {
      const res = await env.h.api('POST', '/api/v1/api-keys', { key: env.keys.admin, body: { name: 'to revoke', role: 'viewer', owner: 'victim' } });
      return created(res, 'api key');
    },
    call: (env, key, id) => env.h.api('DELETE', `/api/v1/api-keys/${id}`, { key }),
    verify: async (env, _c, res, id) => {
      const [row] = await env.h.ds.query(`SELECT revoked_at FROM api_keys WHERE id = $1`, [id]);
      expect(row.revoked_at === null).toBe(res.status !== 200);
    },
  },
];

const MATRIX: Array<[string, string, string, number, Caller, Action]> = ACTIONS.flatMap((a) =>
  CALLERS.map((c): [string, string, string, number, Caller, Action] => [a.family, a.action, CALLER_NAMES[c], a.expected[c], c, a]),
);

describe('authentication and the role matrix', () => {
  let env: Env;
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await startGateway();
    const [alice, bob, viewer] = await Promise.all([h.createKey('member', 'alice'), h.createKey('member', 'bob'), h.createKey('viewer', 'vera')]);
    env = { h, keys: { admin: h.adminKey, alice: alice, bob: bob, viewer: viewer }, datasetId: await registerDataset(h, h.adminKey, 'shared') };
  });
  afterAll(() => h.close());

  describe('401 without a usable key', () => {
    const expect401 = (res: ApiResponse) => {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ statusCode: 401, details: [{ field: 'Authorization' }] });
      expect(res.body.message).toMatch(/^Authorization: /);
    };

    it.each([
      ['GET', '/api/v1/workflows'],
      ['GET', '/api/v1/training-jobs'],
      ['POST', '/api/v1/training-jobs'],
      ['GET', '/api/v1/datasets'],
      ['GET', '/api/v1/models'],
      ['GET', '/api/v1/api-keys'],
    ])('missing header: %s %s', async (method, path) => {
      expect401(await h.api(method, path, method === 'POST' ? { body: {} } : {}));
    });

    it.each([['Basic YWxpY2U6c2VjcmV0'], ['Bearer'], ['Bearer two parts'], ['mf_just_the_key'], ['Bearer  ']])('malformed header %j', async (header) => {
      const res = await h.api('GET', '/api/v1/workflows', { headers: { authorization: header } });
      expect401(res);
      expect(res.body.message).toMatch(/missing or not of the form/);
    });

    it('unknown key', async () => {
      const res = await h.api('GET', '/api/v1/workflows', { key: 'mf_this_key_was_never_issued' });
      expect401(res);
      expect(res.body.message).toMatch(/unknown or revoked/);
    });

    it('revoked key (revoked through DELETE /api/v1/api-keys/:id)', async () => {
      const created = await h.api('POST', '/api/v1/api-keys', { key: h.adminKey, body: { name: 'short-lived', role: 'member', owner: 'carol' } });
      expect(created.status).toBe(201);
      expect((await h.api('GET', '/api/v1/workflows', { key: created.body.key })).status).toBe(200);
      const revoked = await h.api('DELETE', `/api/v1/api-keys/${created.body.id}`, { key: h.adminKey });
      expect(revoked.status).toBe(200);
      const res = await h.api('GET', '/api/v1/workflows', { key: created.body.key });
      expect401(res);
      expect(res.body.message).toMatch(/unknown or revoked/);
      // and a write with it creates nothing
      const write = await h.api('POST', '/api/v1/datasets', { key: created.body.key, body: { name: 'x', dataPath: '/x', numSamples: 1, numClasses: 1 } });
      expect(write.status).toBe(401);
      expect(Number((await h.ds.query(`SELECT count(*)::int AS n FROM datasets WHERE created_by = 'carol'`))[0].n)).toBe(0);
    });
  });

  describe('public endpoints need no key', () => {
    it.each(['/health/live', '/health/ready', '/api/docs', '/api/docs/openapi.json'])('GET %s -> 200', async (path) => {
      const res = await h.api('GET', path);
      expect(res.status).toBe(200);
      if (path === '/api/docs/openapi.json') expect(res.body.openapi).toMatch(/^3\./);
      if (path.startsWith('/health')) expect(res.body.status).toBe('ok');
      if (path === '/api/docs') expect(String(res.body)).toContain('swagger-ui');
    });
  });

  describe('role matrix', () => {
    it.each(MATRIX)('%s %s as %s -> %i', async (_family, _action, _name, expected, caller, action) => {
      const id = action.prepare ? await action.prepare(env) : '';
      const res = await action.call(env, env.keys[caller], id);
      expect({ status: res.status, body: res.body }).toMatchObject({ status: expected });
      if (expected === 403) {
        expect(res.body).toMatchObject({ statusCode: 403, details: [{ field: 'Authorization' }] });
        expect(res.body.message).toContain(caller === 'viewer' ? 'viewer' : 'member');
      }
      if (expected === 404) {
        // Exactly what an unknown id gets: nothing says the resource exists or whose it is.
        expect(res.body).toMatchObject({ statusCode: 404, details: [{ field: 'id' }] });
        expect(res.body.message).toMatch(new RegExp(`^[a-z ]+ ${id} not found$`));
      }
      await action.verify?.(env, caller, res, id);
    });
  });
});
