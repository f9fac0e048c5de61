import 'reflect-metadata';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { parseAllDocuments } from 'yaml';
import { collectiveEnvSchema, parseCollectiveEnv } from '@medfusion/collective';
import { envSchema, loadEnv } from '@medfusion/config';
import { openDatabase } from '@medfusion/persistence';
import { createRedis, TrainingQueue, waitForRedis } from '@medfusion/queue';
import { HEALTH_PATHS, startHealthServer } from '@medfusion/runtime';
import { isolatedResources, type IsolatedResources } from '@medfusion/testing';
import { HealthController } from '../../apps/api-gateway/src/health/health.controller.js';
import { QUEUE_METRICS_PATH, queueMetricsRoute } from '../../apps/scheduler/src/queue-metrics.js';
import { APP_PORT_VAR, type App } from './app-ports.js';
import { modelFor, validateStrict } from './k8s-schemas.js';
import { podContainers, renderKustomization, strategicMerge, type K8sObject, type Rendered } from './kustomize-lite.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TARGETS = { base: 'deploy/k8s/base', dev: 'deploy/k8s/overlays/dev', prod: 'deploy/k8s/overlays/prod' } as const;


const APP_ENV = new Set(Object.keys(envSchema.shape));
const COLLECTIVE_ENV = new Set(Object.keys(collectiveEnvSchema.shape));
/** What the downward API would give, so the effective environment can be parsed. */
const FIELD_REFS: Record<string, string> = { 'status.podIP': '10.1.2.3', 'metadata.name': 'pod-0' };

interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  startupProbe?: { httpGet?: { path: string; port: number | string } };
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
}
type Obj = K8sObject & { spec?: any; data?: Record<string, string>; stringData?: Record<string, string> }; // eslint-disable-line @typescript-eslint/no-explicit-any

function find(objects: Obj[], kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in the rendered manifests`);
  return o;
}
const deployments = (objects: Obj[]) => objects.filter((o) => o.kind === 'Deployment');
const appOf = (d: Obj) => d.metadata.name as App;
const mainContainer = (d: Obj) => podContainers(d).find((c) => c.name === d.metadata.name) as unknown as Container;
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const selectedDeployments = (objects: Obj[], selector: Record<string, string>) =>
  deployments(objects).filter((d) => matches(selector, d.spec.template.metadata.labels));

/** The environment a container starts with: ConfigMaps and Secrets resolved, downward API faked. */
function effectiveEnv(objects: Obj[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, find(objects, 'ConfigMap', from.configMapRef.name).data);
    if (from.secretRef) Object.assign(env, find(objects, 'Secret', from.secretRef.name).stringData);
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (ref?.secretKeyRef) {
      const value = find(objects, 'Secret', ref.secretKeyRef.name).stringData?.[ref.secretKeyRef.key];
      if (value === undefined && !ref.secretKeyRef.optional) throw new Error(`${c.name}: env ${e.name} refers to missing key ${ref.secretKeyRef.key} of Secret ${ref.secretKeyRef.name}`);
      if (value !== undefined) env[e.name] = value;
    } else if (ref?.configMapKeyRef) {
      const value = find(objects, 'ConfigMap', ref.configMapKeyRef.name).data?.[ref.configMapKeyRef.key];
      if (value === undefined) throw new Error(`${c.name}: env ${e.name} refers to missing key ${ref.configMapKeyRef.key} of ConfigMap ${ref.configMapKeyRef.name}`);
      env[e.name] = value;
    } else if (ref?.fieldRef) {
      const value = FIELD_REFS[ref.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`${c.name}: env ${e.name}: unexpected fieldRef ${ref.fieldRef.fieldPath}`);
      env[e.name] = value;
    } else throw new Error(`${c.name}: env ${e.name} has neither value nor a supported valueFrom`);
  }
  return env;
}

function containerPort(c: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  const p = c.ports?.find((x) => x.name === port);
  if (!p) throw new Error(`container ${c.name} has no port named ${port}`);
  return p.containerPort;
}

const rendered: Record<keyof typeof TARGETS, Rendered[]> = {
  base: renderKustomization(join(ROOT, TARGETS.base)),
  dev: renderKustomization(join(ROOT, TARGETS.dev)),
  prod: renderKustomization(join(ROOT, TARGETS.prod)),
};

/** kubectl embeds kustomize (`kubectl kustomize`); where it is installed the renderer is held against it. */
const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

describe('test renderer (the kustomize subset the overlays use)', () => {
  (HAS_KUBECTL ? it : it.skip).each(Object.entries(TARGETS))('renders %s exactly as `kubectl kustomize` does (kubectl on PATH)', (target, dir) => {
    const real = parseAllDocuments(execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' })).map((d) => d.toJS() as K8sObject);
    const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
    const mine = rendered[target as keyof typeof TARGETS].map((r) => r.object);
    expect(mine.map(id).sort()).toEqual(real.map(id).sort());
    for (const o of mine) expect(o).toEqual(real.find((r) => id(r) === id(o)));
  });

  it('merges maps, deletes on null, merges containers and env by name and replaces other lists', () => {
    const base = { spec: { replicas: 2, minAvailable: 1, template: { spec: { containers: [{ name: 'a', image: 'x', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] } }, tolerations: [{ key: 'k' }] } };
    const patch = { spec: { minAvailable: null, maxUnavailable: 1, template: { spec: { containers: [{ name: 'a', env: [{ name: 'B', value: '3' }] }] } }, tolerations: [{ key: 'z' }] } };
    expect(strategicMerge(base, patch, true, 'test')).toEqual({
      spec: { replicas: 2, maxUnavailable: 1, template: { spec: { containers: [{ name: 'a', image: 'x', env: [{ name: 'A', value: '1' }, { name: 'B', value: '3' }] }] } }, tolerations: [{ key: 'z' }] },
    });
    // Custom resources have no merge keys: their lists are replaced, as kustomize does.
    expect(strategicMerge({ triggers: [{ name: 'a', type: 'x' }, { name: 'b' }] }, { triggers: [{ name: 'a' }] }, false, 'test')).toEqual({ triggers: [{ name: 'a' }] });
  });

  it('reports a field the Kubernetes schema does not know (strict field validation)', () => {
    const d = structuredClone(find(rendered.base.map((r) => r.object) as Obj[], 'Deployment', 'scheduler'));
    expect(validateStrict(d)).toEqual([]);
    d.spec.template.spec.containers[0].livenessprobe = d.spec.template.spec.containers[0].livenessProbe;
    d.spec.replica = 1;
    expect(validateStrict(d).sort()).toEqual([
      'Deployment/scheduler: unknown field Deployment.spec.replica',
      'Deployment/scheduler: unknown field Deployment.spec.template.spec.containers.0.livenessprobe',
    ]);
    d.spec.template.spec.containers[0].ports[0].containerPort = 'health';
    expect(validateStrict(d).join('\n')).toMatch(/containerPort must be integer/);
  });
});

describe.each(Object.keys(TARGETS) as (keyof typeof TARGETS)[])('deploy/k8s %s', (target) => {
  const objects = () => rendered[target].map((r) => r.object) as Obj[];

  it('renders only kinds with a schema, each valid against the Kubernetes/KEDA OpenAPI schemas with no unknown fields', () => {
    const problems = rendered[target].flatMap((r) => validateStrict(r.object).map((p) => `${r.source}: ${p}`));
    expect(problems).toEqual([]);
    const ids = objects().map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(ids).size).toBe(ids.length);
    for (const o of objects()) expect(modelFor(o)).toBeDefined();
  });

  it('puts every object in one namespace', () => {
    const namespaces = new Set(objects().map((o) => o.metadata.namespace));
    expect([...namespaces]).toEqual([target === 'dev' ? 'medfusion-dev' : 'medfusion']);
  });

  it('deploys every app, with only variables the apps read, and an environment the apps accept', () => {
    const apps = readdirSync(join(ROOT, 'apps')).sort();
    expect(deployments(objects()).map(appOf).sort()).toEqual(apps);
    expect(Object.keys(APP_PORT_VAR).sort()).toEqual(apps);
    for (const d of deployments(objects())) {
      const c = mainContainer(d);
      const env = effectiveEnv(objects(), c);
      const allowed = (name: string) => APP_ENV.has(name) || (appOf(d) === 'gpu-worker' && COLLECTIVE_ENV.has(name));
      expect({ app: appOf(d), unknown: Object.keys(env).filter((n) => !allowed(n)) }).toEqual({ app: appOf(d), unknown: [] });
      expect(() => loadEnv(env)).not.toThrow();
    }
  });

  it('serves probes on the paths and ports the apps really use', () => {
    // The gateway's controller answers the same two paths as the headless apps' health server.
    const base = Reflect.getMetadata('path', HealthController) as string;
    expect(`/${base}/${Reflect.getMetadata('path', HealthController.prototype.live) as string}`).toBe(HEALTH_PATHS.live);
    expect(`/${base}/${Reflect.getMetadata('path', HealthController.prototype.ready) as string}`).toBe(HEALTH_PATHS.ready);
    for (const d of deployments(objects())) {
      const c = mainContainer(d);
      const port = loadEnv(effectiveEnv(objects(), c))[APP_PORT_VAR[appOf(d)]];
      expect({ app: appOf(d), live: c.livenessProbe?.httpGet?.path, ready: c.readinessProbe?.httpGet?.path, startup: c.startupProbe?.httpGet?.path }).toEqual({
        app: appOf(d), live: HEALTH_PATHS.live, ready: HEALTH_PATHS.ready, startup: HEALTH_PATHS.live,
      });
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) expect({ app: appOf(d), port: containerPort(c, probe!.httpGet!.port) }).toEqual({ app: appOf(d), port });
    }
  });

  it('gives every pod longer to stop than the app waits for its work (SHUTDOWN_TIMEOUT_MS)', () => {
    for (const d of deployments(objects())) {
      const { SHUTDOWN_TIMEOUT_MS } = loadEnv(effectiveEnv(objects(), mainContainer(d)));
      expect({ app: appOf(d), enough: d.spec.template.spec.terminationGracePeriodSeconds * 1000 >= SHUTDOWN_TIMEOUT_MS + 10_000 }).toEqual({ app: appOf(d), enough: true });
    }
  });

  it('runs every app as a non-root user', () => {
    for (const d of deployments(objects())) {
      const sc = d.spec.template.spec.securityContext;
      expect({ app: appOf(d), runAsNonRoot: sc?.runAsNonRoot, uid: (sc?.runAsUser ?? 0) > 0 }).toEqual({ app: appOf(d), runAsNonRoot: true, uid: true });
    }
  });

  it('wires Services, the Ingress, the HPA and PodDisruptionBudgets to real pods and ports', () => {
    for (const s of objects().filter((o) => o.kind === 'Service')) {
      const [d] = selectedDeployments(objects(), s.spec.selector);
      expect(d).toBeDefined();
      for (const p of s.spec.ports) expect(() => containerPort(mainContainer(d!), p.targetPort)).not.toThrow();
    }
    const ingress = find(objects(), 'Ingress', 'api-gateway');
    for (const rule of ingress.spec.rules) {
      for (const path of rule.http.paths) {
        const svc = find(objects(), 'Service', path.backend.service.name);
        expect(svc.spec.ports.map((p: { name: string }) => p.name)).toContain(path.backend.service.port.name);
        expect(selectedDeployments(objects(), svc.spec.selector).map(appOf)).toEqual(['api-gateway']);
      }
    }
    const hpa = find(objects(), 'HorizontalPodAutoscaler', 'api-gateway');
    expect(find(objects(), hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name).kind).toBe('Deployment');
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    for (const pdb of objects().filter((o) => o.kind === 'PodDisruptionBudget')) {
      const selected = selectedDeployments(objects(), pdb.spec.selector.matchLabels);
      expect(selected.map(appOf)).toEqual([pdb.metadata.name]);
      // A PDB that allows no eviction at the Deployment's own size blocks every node drain.
      if (pdb.spec.minAvailable !== undefined) expect(pdb.spec.minAvailable).toBeLessThan(selected[0]!.spec.replicas);
    }
  });

  it('gives gpu-workers a GPU, GPU nodes, their pod IP for gRPC and a reachable collective port', () => {
    const d = find(objects(), 'Deployment', 'gpu-worker');
    const pod = d.spec.template.spec;
    const c = mainContainer(d);
    const env = effectiveEnv(objects(), c);
    const parsed = loadEnv(env);
    expect(Number(c.resources?.limits?.['nvidia.com/gpu'])).toBe(parsed.GPU_WORKER_DEVICES);
    expect(Object.keys(pod.nodeSelector ?? {})).not.toHaveLength(0);
    expect(pod.tolerations).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'nvidia.com/gpu', effect: 'NoSchedule' })]));
    expect(c.env?.find((e) => e.name === 'COLLECTIVE_ADVERTISE_HOST')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    // The collective accepts this environment once the per-job rank variables are added.
    const rank = parseCollectiveEnv({ ...env, RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '10.1.2.4', COLLECTIVE_JOB_ID: 'job', COLLECTIVE_TOKEN: 'a-token-of-16-chars' });
    const collectivePort = containerPort(c, 'collective');
    expect(rank.COLLECTIVE_PORT).toBe(collectivePort);
    // The socket data plane listens on its own port, which the gpu-worker's validated env and the rank agree on.
    expect(rank.COLLECTIVE_DATA_PORT).toBe(containerPort(c, 'collective-data'));
    expect(parsed.COLLECTIVE_DATA_PORT).toBe(containerPort(c, 'collective-data'));
    expect(parsed.COLLECTIVE_PORT).toBe(collectivePort);
    expect(rank.MASTER_PORT).toBe(collectivePort);
    expect(rank.COLLECTIVE_ADVERTISE_HOST).toBe(FIELD_REFS['status.podIP']);
  });

  it('lets only gpu-workers reach the collective port, only the gateway be reached from anywhere, and KEDA read the scheduler', () => {
    const policies = objects().filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.some((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes.includes('Ingress') && !p.spec.ingress)).toBe(true);
    const gpu = find(objects(), 'Deployment', 'gpu-worker');
    const collectivePort = containerPort(mainContainer(gpu), 'collective');
    const dataPort = containerPort(mainContainer(gpu), 'collective-data');
    // Some policy must let gpu-workers reach both collective ports.
    const gpuPolicies = policies.filter((p) => p.spec.podSelector.matchLabels && selectedDeployments(objects(), p.spec.podSelector.matchLabels).map(appOf).includes('gpu-worker'));
    const admitted = gpuPolicies.flatMap((p) => (p.spec.ingress ?? []).flatMap((rule: { ports?: { port: number | string }[] }) => (rule.ports ?? []).map((x) => containerPort(mainContainer(gpu), x.port))));
    expect(admitted).toEqual(expect.arrayContaining([collectivePort, dataPort]));
    for (const p of policies) {
      const pods = p.spec.podSelector.matchLabels ? selectedDeployments(objects(), p.spec.podSelector.matchLabels) : deployments(objects());
      for (const rule of p.spec.ingress ?? []) {
        for (const d of pods) {
          const ports = (rule.ports ?? []).map((x: { port: number | string }) => containerPort(mainContainer(d), x.port));
          if (!rule.from) expect({ policy: p.metadata.name, open: appOf(d) }).toEqual({ policy: p.metadata.name, open: 'api-gateway' });
          if (appOf(d) === 'gpu-worker' && (ports.length === 0 || ports.includes(collectivePort) || ports.includes(dataPort))) {
            // Sources: pods of this namespace only (no namespaceSelector, no ipBlock), and gpu-workers only.
            const sources = (rule.from ?? [{}]) as { podSelector?: { matchLabels?: Record<string, string> } }[];
            for (const f of sources) {
              expect({ policy: p.metadata.name, fields: Object.keys(f) }).toEqual({ policy: p.metadata.name, fields: ['podSelector'] });
              expect(selectedDeployments(objects(), f.podSelector?.matchLabels ?? {}).map(appOf)).toEqual(['gpu-worker']);
            }
          }
        }
      }
    }
  });

  it('tags images in the overlays', () => {
    if (target === 'base') return;
    for (const d of deployments(objects())) expect(mainContainer(d).image).toMatch(/:[\w.-]+$/);
    for (const d of deployments(objects())) expect(mainContainer(d).image).not.toMatch(/:latest$/);
  });
});

/** KEDA reads what the code writes: the scheduler's metric and BullMQ's keys for the training queue. */
describe.each(Object.keys(TARGETS) as (keyof typeof TARGETS)[])('deploy/k8s %s: KEDA against the code', (target) => {
  let resources: IsolatedResources;
  let ds: DataSource;
  let redis: Redis;
  const objects = () => rendered[target].map((r) => r.object) as Obj[];

  beforeAll(async () => {
    resources = await isolatedResources();
    ds = await openDatabase({ url: resources.databaseUrl, migrate: true, poolSize: 2 });
    redis = createRedis(resources.redisUrl, 'producer');
    await waitForRedis(redis, resources.redisUrl);
  });
  afterAll(async () => {
    redis?.disconnect();
    await ds?.destroy();
    await resources.cleanup();
  });

  it('scales gpu-worker on the scheduler\'s queue metric, at its real URL and JSON location, one GPU per target unit', async () => {
    const so = find(objects(), 'ScaledObject', 'gpu-worker');
    expect(find(objects(), so.spec.scaleTargetRef.kind ?? 'Deployment', so.spec.scaleTargetRef.name).kind).toBe('Deployment');
    expect(so.spec.minReplicaCount).toBe(0);
    const gpu = find(objects(), 'Deployment', 'gpu-worker');
    const gpuEnv = loadEnv(effectiveEnv(objects(), mainContainer(gpu)));
    const trigger = so.spec.triggers.find((t: { type: string }) => t.type === 'metrics-api');
    const url = new URL(trigger.metadata.url);
    const scheduler = find(objects(), 'Deployment', 'scheduler');
    const schedulerEnv = loadEnv(effectiveEnv(objects(), mainContainer(scheduler)));
    const service = find(objects(), 'Service', url.hostname.split('.')[0]!);
    expect(url.hostname).toBe(`${service.metadata.name}.${so.metadata.namespace}.svc.cluster.local`);
    expect(selectedDeployments(objects(), service.spec.selector).map(appOf)).toEqual(['scheduler']);
    const servicePort = service.spec.ports.find((p: { port: number }) => p.port === Number(url.port));
    expect(servicePort).toBeDefined();
    expect(containerPort(mainContainer(scheduler), servicePort.targetPort)).toBe(schedulerEnv.SCHEDULER_HEALTH_PORT);
    expect(url.pathname).toBe(QUEUE_METRICS_PATH);
    expect(trigger.metadata.format ?? 'json').toBe('json');
    expect(Number(trigger.metadata.targetValue)).toBe(gpuEnv.GPU_WORKER_DEVICES);
    expect(trigger.metricType).toBe('AverageValue');

    // The value location, read from what the real route answers (a plain dot path, so gjson reads the same).
    // The route reads this test's own empty prefix, not the overlay's: a stack running on the same
    // Redis under the default prefix must not change what this test sees.
    expect(trigger.metadata.valueLocation).toMatch(/^[A-Za-z]+(\.[A-Za-z]+)*$/);
    // KEDA sends the bearer token of the trigger's TriggerAuthentication; the scheduler requires the same one.
    expect(trigger.metadata.authMode).toBe('bearer');
    const auth = find(objects(), 'TriggerAuthentication', trigger.authenticationRef.name);
    const tokenRef = auth.spec.secretTargetRef.find((r: { parameter: string }) => r.parameter === 'token');
    const kedaToken = find(objects(), 'Secret', tokenRef.name).stringData?.[tokenRef.key];
    expect(kedaToken).toBeDefined();
    expect(schedulerEnv.QUEUE_METRICS_TOKEN).toBe(kedaToken);
    const queue = new TrainingQueue(redis, resources.redisPrefix);
    try {
      const route = queueMetricsRoute(queue, { redis, ds }, { token: schedulerEnv.QUEUE_METRICS_TOKEN });
      expect((await route({ headers: {} })).status).toBe(401);
      const { status, body } = await route({ headers: { authorization: `Bearer ${kedaToken}` } });
      expect(status).toBe(200);
      const value = (trigger.metadata.valueLocation as string).split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], body);
      expect(value).toBe(0);
    } finally {
      await queue.close();
    }

    // KEDA's operator may reach that port (network-policies.yaml).
    const fromKeda = objects().filter(
      (p) => p.kind === 'NetworkPolicy' && matches(p.spec.podSelector.matchLabels ?? {}, scheduler.spec.template.metadata.labels),
    ).flatMap((p) => p.spec.ingress ?? []).filter((rule: { from?: { namespaceSelector?: { matchLabels?: Record<string, string> } }[] }) =>
      rule.from?.some((f) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'keda'),
    );
    expect(fromKeda.flatMap((rule: { ports: { port: string | number }[] }) => rule.ports.map((p) => containerPort(mainContainer(scheduler), p.port)))).toContain(schedulerEnv.SCHEDULER_HEALTH_PORT);
  });

  it('watches the Redis list BullMQ builds for the training queue from REDIS_PREFIX', async () => {
    const so = find(objects(), 'ScaledObject', 'gpu-worker');
    const trigger = so.spec.triggers.find((t: { type: string }) => t.type === 'redis');
    for (const app of ['gpu-worker', 'scheduler', 'api-gateway'] as const) {
      const env = loadEnv(effectiveEnv(objects(), mainContainer(find(objects(), 'Deployment', app))));
      const queue = new TrainingQueue(redis, env.REDIS_PREFIX);
      try {
        expect({ app, listName: trigger.metadata.listName }).toEqual({ app, listName: queue.queue.keys.wait });
      } finally {
        await queue.close();
      }
    }
    const auth = find(objects(), 'TriggerAuthentication', trigger.authenticationRef.name);
    for (const ref of auth.spec.secretTargetRef) expect(find(objects(), 'Secret', ref.name).stringData?.[ref.key]).toBeDefined();
    // KEDA's address is the same Redis as the apps' REDIS_URL.
    const secret = find(objects(), 'Secret', 'medfusion-secrets');
    const address = auth.spec.secretTargetRef.find((r: { parameter: string }) => r.parameter === 'address');
    const redisUrl = new URL(secret.stringData!.REDIS_URL!);
    expect(secret.stringData![address.key]).toBe(`${redisUrl.hostname}:${redisUrl.port || 6379}`);
  });
});

describe('health endpoints the probes hit', () => {
  it('answer on a real health server at HEALTH_PATHS', async () => {
    const server = await startHealthServer('127.0.0.1', 0, { ok: async () => undefined });
    try {
      for (const path of Object.values(HEALTH_PATHS)) expect((await fetch(`http://127.0.0.1:${server.port}${path}`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
