import { parentPort, workerData } from 'node:worker_threads';
import { confinePath, LocalArtifactStore, pathConfiner } from '@medfusion/artifacts';
import { CollectiveGroup, RankServer } from '@medfusion/collective';
import { loadDataset } from '@medfusion/fusion';
import { decodeCheckpoint, encodeCheckpoint, exportLayersModel, runTrainingSession, selectComputeBackend, type CheckpointMeta } from '@medfusion/training';
import { CONTROL, type CollectiveThreadSettings, type MainToThreadMessage, type TrainingThreadInput, type TrainingThreadMessage } from './thread-protocol.js';

/**
 * Runs one training job off the worker's main thread: TF.js kernels are synchronous, and a blocked
 * main thread would let the queue lock expire and the job run twice.
 */
const input = workerData as TrainingThreadInput;
const post = (m: TrainingThreadMessage) => parentPort!.postMessage(m);
const control = new Int32Array(input.control);
const REQUEST = { [CONTROL.none]: 'none', [CONTROL.pause]: 'pause', [CONTROL.stop]: 'stop', [CONTROL.handback]: 'handback' } as const;

async function main(): Promise<void> {
  const store = new LocalArtifactStore(input.artifactsDir);
  const backend = await selectComputeBackend(input.backend, { threads: input.computeThreads });
  post({ type: 'backend', name: backend.name, label: backend.label, threads: backend.threads, nhwcAddon: backend.nhwcAddon, gemm: backend.gemm, skipped: backend.skipped });

  // Checked again here, where the files are opened: a link under a data root may have been changed to
  // lead out since the gateway checked the path. Every file the loader opens (the CSV, each image) too.
  const confine = await pathConfiner(input.dataRoots);
  const dataPath = await confine(input.dataPath, "the dataset's dataPath");
  const initialWeights = await startingWeights();
  const data = await loadDataset(dataPath, {
    resolveFile: (file) => confine(file, 'the file'),
    imageColumn: input.dataConfig.imageColumn,
    labelColumn: input.dataConfig.labelColumn,
    splitColumn: input.dataConfig.splitColumn,
    clinicalColumns: input.dataConfig.clinicalColumns,
    categoricalColumns: input.dataConfig.categoricalColumns,
    dicomWindow: input.dataConfig.dicomWindow,
    viewColumns: input.dataConfig.viewColumns,
    maskColumn: input.dataConfig.maskColumn,
    imageSize: input.modelConfig.imageSize,
    imageChannels: input.modelConfig.imageChannels,
  });
  post({ type: 'data', train: data.train.count, val: data.val.count, test: data.test.count, clinicalColumns: data.clinicalColumns });

  const group = input.collective ? await joinGang(input.jobId, input.collective) : undefined;
  try {
    await train(store, backend, data, group, initialWeights);
  } finally {
    await group?.close();
  }
}

/**
 * Binds this rank's collective server, tells the main thread its port (published in the gang's
 * rendezvous record), waits for every rank's address and joins the ring.
 */
async function joinGang(jobId: string, c: CollectiveThreadSettings): Promise<CollectiveGroup> {
  const server = await RankServer.listen({ host: c.bindHost, port: c.port });
  const peers = new Promise<Array<{ host: string; port: number }>>((resolve) => {
    // A listener left on parentPort would keep the thread alive after training.
    const onMessage = (m: MainToThreadMessage) => {
      if (m.type !== 'peers') return;
      parentPort!.off('message', onMessage);
      resolve(m.peers);
    };
    parentPort!.on('message', onMessage);
  });
  post({ type: 'collective-listening', port: server.port });
  const group = await CollectiveGroup.join({
    jobId: `${jobId}#${c.attempt}`,
    rank: c.rank,
    worldSize: c.worldSize,
    token: c.token,
    peers: await peers,
    server,
    bindHost: c.bindHost,
    deadlineMs: c.deadlineMs,
    joinTimeoutMs: c.joinTimeoutMs,
    bucketBytes: c.bucketBytes,
    dataPort: c.dataPort,
  });
  post({ type: 'collective-joined' });
  return group;
}

/**
 * Where the job's starting weights are, checked where they are read: a weightsPath under the data
 * roots (links resolved), stored weights named by id inside the artifact store. A resumed job takes
 * its weights from its checkpoint instead.
 */
async function startingWeights(): Promise<{ path: string; label: string } | undefined> {
  if (input.resumeFrom) return undefined;
  if (input.storedWeights) {
    const { location, label } = input.storedWeights;
    return { path: await confinePath(location, [input.artifactsDir], label), label };
  }
  const given = input.modelConfig.weightsPath;
  if (given === undefined) return undefined;
  return { path: await confinePath(given, input.dataRoots, 'modelConfig.weightsPath'), label: 'modelConfig.weightsPath' };
}

async function train(
  store: LocalArtifactStore,
  backend: Awaited<ReturnType<typeof selectComputeBackend>>,
  data: Awaited<ReturnType<typeof loadDataset>>,
  group: CollectiveGroup | undefined,
  initialWeights: { path: string; label: string } | undefined,
): Promise<void> {
  const resume = input.resumeFrom ? decodeCheckpoint<CheckpointMeta>(await store.get(input.resumeFrom), input.resumeFrom) : undefined;
  const outcome = await runTrainingSession({
    tf: backend.tf,
    modelConfig: input.modelConfig,
    trainingConfig: input.trainingConfig,
    data,
    resume,
    control: () => REQUEST[Atomics.load(control, 0) as keyof typeof REQUEST] ?? 'none',
    onStep: (s) => post({ type: 'step', ...s }),
    onEpoch: async (e) => post({ type: 'epoch', ...e }),
    saveCheckpoint: async (contents, info) => {
      const key = `jobs/${input.jobId}/checkpoints/epoch-${String(info.meta.epoch).padStart(5, '0')}-step-${String(info.meta.step).padStart(6, '0')}.ckpt`;
      const { location, size } = await store.put(key, encodeCheckpoint(contents));
      post({ type: 'checkpoint', key, location, size, meta: info.meta, metrics: info.metrics, reason: info.reason });
    },
    distributed: group ? { group } : undefined,
    initialWeights,
  });
  if (group && group.rank !== 0) {
    // Rank 0 exports the model and reports the outcome; the replicas hold the same weights.
    if (outcome.kind === 'completed') outcome.model.dispose();
    post({ type: 'rank-finished', kind: outcome.kind });
    return;
  }
  if (outcome.kind !== 'completed') {
    post({ type: 'halted', kind: outcome.kind, epoch: outcome.epoch, step: outcome.step });
    return;
  }
  const exported = await exportLayersModel(backend.tf, outcome.model, store, `jobs/${input.jobId}/model`);
  post({
    type: 'completed',
    location: exported.location,
    size: exported.size,
    epochs: outcome.epochs,
    earlyStopped: outcome.earlyStopped,
    val: outcome.val,
    test: outcome.test,
    numClinical: data.clinicalColumns.length,
  });
}

main().catch((err: unknown) => {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err), ...(code ? { code } : {}) });
});
