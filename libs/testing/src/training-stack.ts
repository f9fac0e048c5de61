import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { SOCKET_EVENTS, type TrainingEvent } from '@medfusion/contracts';
import { generateSyntheticDataset, registrationOf } from '@medfusion/fusion';
import { apiClient, type ApiClient } from './api-client.js';
import { freePort, startAppProcess, waitForHttpOk, type AppProcess } from './app-process.js';
import { envForChild, type IsolatedResources } from './isolated-resources.js';
import { waitFor } from './wait-for.js';

/** A running gateway with a registered synthetic data set: what every end-to-end training test starts from. */
export interface TrainingStack {
  gateway: AppProcess;
  gatewayUrl: string;
  api: ApiClient;
  datasetId: string;
  /** Subscribes to `job:<id>` over Socket.IO; `events` fills as they arrive. Close the socket when done (or call closeSockets). */
  watchJob(jobId: string, key?: string): Promise<{ socket: Socket; events: TrainingEvent[] }>;
  /** GET /training-jobs/:id until it has `status` (a failure on the way throws with the job's error). */
  untilJobStatus(id: string, status: string, timeoutMs?: number): Promise<Record<string, any>>;
  closeSockets(): void;
}

/**
 * Starts the api-gateway against the test's own database and Redis prefix, generates a synthetic
 * data set in `<workDir>/data` and registers it. Needs `npm run build` (the app's dist runs).
 */
export async function startTrainingStack(r: IsolatedResources, o: { workDir: string; numCases: number; seed: number; imageSize?: number }): Promise<TrainingStack> {
  const dataDir = join(o.workDir, 'data');
  const stats = await generateSyntheticDataset({ outDir: dataDir, numCases: o.numCases, seed: o.seed, imageSize: o.imageSize ?? 32 });
  const port = await freePort();
  const gateway = startAppProcess('api-gateway', envForChild(r, { GATEWAY_PORT: String(port) }));
  const gatewayUrl = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${gatewayUrl}/health/ready`, gateway);
  const api = apiClient(gatewayUrl);
  const ds = await api('POST', '/api/v1/datasets', { key: r.adminKey, body: registrationOf(stats, dataDir, 'synthetic') });
  if (ds.status !== 201) throw new Error(`registering the synthetic data set answered ${ds.status}: ${JSON.stringify(ds.body)}`);
  const sockets: Socket[] = [];
  const job = async (id: string) => (await api('GET', `/api/v1/training-jobs/${id}`, { key: r.adminKey })).body as Record<string, any>;
  return {
    gateway,
    gatewayUrl,
    api,
    datasetId: ds.body.id as string,
    watchJob(jobId, key = r.adminKey) {
      const socket = io(gatewayUrl, { auth: { token: key }, transports: ['websocket'] });
      sockets.push(socket);
      const events: TrainingEvent[] = [];
      socket.on(SOCKET_EVENTS.training, (e: TrainingEvent) => events.push(e));
      return new Promise((resolve, reject) => {
        socket.on('connect_error', reject);
        socket.on('connect', () =>
          socket.emit(SOCKET_EVENTS.subscribe, { jobId }, (ack: { ok: boolean; error?: string }) => (ack.ok ? resolve({ socket, events }) : reject(new Error(ack.error)))),
        );
      });
    },
    untilJobStatus(id, status, timeoutMs = 120_000) {
      return waitFor(
        `job ${id} to be ${status}`,
        async () => {
          const j = await job(id);
          if (j['status'] === 'failed' && status !== 'failed') throw new Error(`job failed: ${j['error']}`);
          return j['status'] === status ? j : null;
        },
        timeoutMs,
        250,
      );
    },
    closeSockets() {
      sockets.forEach((s) => s.close());
    },
  };
}
