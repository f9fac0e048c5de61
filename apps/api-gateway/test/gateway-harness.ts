import type { INestApplication } from '@nestjs/common';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createLogger } from '@medfusion/runtime';
import { apiClient, isolatedResources, type ApiClient, type IsolatedResources } from '@medfusion/testing';
import { createGatewayApp } from '../src/gateway-app.js';

export interface GatewayHarness {
  app: INestApplication;
  resources: IsolatedResources;
  ds: DataSource;
  baseUrl: string;
  api: ApiClient;
  adminKey: string;
  /** This gateway's data root (DATA_ROOTS): registered dataset paths must lie under it. */
  dataRoot: string;
  /** Makes a folder `name` under the data root and returns its (real) path, for dataPath. */
  dataFolder(name: string): string;
  /** Creates an API key with this role and owner through the REST API and returns the secret. */
  createKey(role: 'admin' | 'member' | 'viewer', owner: string): Promise<string>;
  close(): Promise<void>;
}

/** The real gateway in-process on a free port, with its own database and Redis prefix. */
export async function startGateway(envOverrides: Record<string, string> = {}): Promise<GatewayHarness> {
  const dataRoot = realpathSync(mkdtempSync(join(tmpdir(), 'mf-data-root-')));
  const resources = await isolatedResources({ DATA_ROOTS: dataRoot, ...envOverrides });
  const app = await createGatewayApp(resources.env, createLogger('api-gateway-test', resources.env.LOG_LEVEL));
  await app.listen(0, '127.0.0.1');
  const baseUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const api = apiClient(baseUrl);
  return {
    app,
    resources,
    ds: app.get(DataSource),
    baseUrl,
    api,
    adminKey: resources.adminKey,
    dataRoot,
    dataFolder(name) {
      const dir = join(dataRoot, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    async createKey(role, owner) {
      const res = await api('POST', '/api/v1/api-keys', { key: resources.adminKey, body: { name: `${role} ${owner}`, role, owner } });
      if (res.status !== 201) throw new Error(`could not create ${role} key: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.key as string;
    },
    async close() {
      await app.close();
      await resources.cleanup();
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}

/** A registered dataset for tests that need one. */
export async function registerDataset(h: GatewayHarness, key: string, name = 'chest-xray'): Promise<string> {
  const res = await h.api('POST', '/api/v1/datasets', {
    key,
    body: { name, dataPath: h.dataFolder('chest-xray'), numSamples: 100, numClasses: 2, trainSamples: 70, valSamples: 15, testSamples: 15 },
  });
  if (res.status !== 201) throw new Error(`dataset registration failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export function trainingJobBody(datasetId: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'fusion-baseline',
    description: 'small CNN + MLP, concatenation',
    dataConfig: { datasetId },
    trainingConfig: { epochs: 3, batchSize: 16, learningRate: 0.001 },
    ...overrides,
  };
}
