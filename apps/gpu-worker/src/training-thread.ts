import { parentPort, workerData } from 'node:worker_threads';
import { LocalArtifactStore } from '@medfusion/artifacts';
import { loadDataset } from '@medfusion/fusion';
import { decodeCheckpoint, encodeCheckpoint, exportLayersModel, runTrainingSession, selectComputeBackend, type CheckpointMeta } from '@medfusion/training';
import { CONTROL, type TrainingThreadInput, type TrainingThreadMessage } from './thread-protocol.js';

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
  post({ type: 'backend', name: backend.name, label: backend.label, threads: backend.threads, nhwcAddon: backend.nhwcAddon, skipped: backend.skipped });

  const data = await loadDataset(input.dataPath, {
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
  });
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

main().catch((err: unknown) => post({ type: 'failed', message: err instanceof Error ? err.message : String(err) }));
