import { availableParallelism } from 'node:os';
import { Worker as Thread } from 'node:worker_threads';
import type { DataSource } from 'typeorm';
import type { ArtifactStore } from '@medfusion/artifacts';
import { computeThreads, type Env } from '@medfusion/config';
import type { TrainingEvent } from '@medfusion/contracts';
import {
  DatasetEntity,
  LostOwnershipError,
  TrainingCheckpointRepository,
  TrainingRunRepository,
  type RunFence,
  type TrainingJobEntity,
} from '@medfusion/persistence';
import type { TrainingEventPublisher } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { scalarMetrics } from '@medfusion/training';
import { CONTROL, type TrainingThreadInput, type TrainingThreadMessage } from './thread-protocol.js';

export type RunResult = 'completed' | 'failed' | 'paused' | 'stopped' | 'handed-back' | 'not-claimed' | 'lost';

export interface TrainingJobRunnerDeps {
  ds: DataSource;
  env: Env;
  store: ArtifactStore;
  events: TrainingEventPublisher;
  logger: Logger;
  workerId: string;
}

/** At most this many step events per second per job reach Redis. */
const STEP_EVENTS_PER_SECOND = 4;
/** Fallback for a missed pub/sub control message: the row's desired state is read this often. */
const DESIRED_STATE_POLL_MS = 2000;

/**
 * Runs training jobs on this worker: claims the row, trains in a worker thread, and turns the
 * thread's messages into database writes (fenced by the claim) and progress events.
 */
export class TrainingJobRunner {
  private readonly runs: TrainingRunRepository;
  private readonly checkpoints: TrainingCheckpointRepository;
  private readonly controls = new Map<string, Int32Array>();

  constructor(private readonly deps: TrainingJobRunnerDeps) {
    this.runs = new TrainingRunRepository(deps.ds);
    this.checkpoints = new TrainingCheckpointRepository(deps.ds);
  }

  /** Asks a running job to pause, stop or hand back; it acts before its next step. */
  request(jobId: string, action: 'pause' | 'stop' | 'handback'): boolean {
    const cell = this.controls.get(jobId);
    if (!cell) return false;
    // A hand-back (shutdown) wins over a user's pause/stop; otherwise the latest request wins.
    if (Atomics.load(cell, 0) !== CONTROL.handback) Atomics.store(cell, 0, CONTROL[action]);
    return true;
  }

  handBackAll(): string[] {
    const ids = [...this.controls.keys()];
    ids.forEach((id) => Atomics.store(this.controls.get(id)!, 0, CONTROL.handback));
    return ids;
  }

  get runningJobs(): string[] {
    return [...this.controls.keys()];
  }

  async run(jobId: string): Promise<RunResult> {
    const log = this.deps.logger.child({ jobId });
    const claim = await this.runs.claim(jobId, this.deps.workerId);
    if (!claim.claimed) {
      log.info({ status: claim.job?.status ?? 'deleted' }, 'training job not claimable; skipping');
      return 'not-claimed';
    }
    const { fence, job } = claim;
    log.info({ attempt: fence.attempt }, 'training job claimed');
    try {
      return await this.train(job, fence, log);
    } catch (err) {
      if (err instanceof LostOwnershipError) {
        log.warn({ err }, 'lost ownership of the training job; another worker has it');
        return 'lost';
      }
      const message = `worker ${this.deps.workerId} failed: ${(err as Error).message}`;
      await this.runs.fail(fence, message).catch((e: unknown) => log.error({ err: e }, 'could not record the failure'));
      await this.emit({ type: 'status', jobId, status: 'failed', error: message });
      throw err;
    }
  }

  private async train(job: TrainingJobEntity, fence: RunFence, log: Logger): Promise<RunResult> {
    const dataset = job.datasetId ? await this.deps.ds.getRepository(DatasetEntity).findOneBy({ id: job.datasetId }) : null;
    if (!dataset) return this.failJob(fence, `dataset ${job.dataConfig.datasetId} does not exist (deleted?); register it and submit the job again`);

    const resume = await this.checkpoints.latest(job.id);
    await this.runs.truncateHistory(fence, resume?.epoch ?? 0);
    if (resume) log.info({ epoch: resume.epoch, step: resume.step }, 'resuming from checkpoint');

    const control = new Int32Array(new SharedArrayBuffer(4));
    if (job.desiredState) Atomics.store(control, 0, CONTROL[job.desiredState]);
    this.controls.set(job.id, control);
    const input: TrainingThreadInput = {
      jobId: job.id,
      modelConfig: job.modelConfig,
      trainingConfig: job.trainingConfig,
      dataConfig: job.dataConfig,
      dataPath: dataset.dataPath,
      artifactsDir: this.deps.env.ARTIFACTS_DIR,
      resumeFrom: resume ? this.deps.store.keyOf(resume.checkpointPath) : null,
      backend: this.deps.env.COMPUTE_BACKEND,
      computeThreads: computeThreads(this.deps.env, availableParallelism()),
      control: control.buffer as SharedArrayBuffer,
    };
    const thread = new Thread(new URL('./training-thread.js', import.meta.url), { workerData: input });
    let result: RunResult | undefined;
    let chain: Promise<void> = Promise.resolve();
    let lastStepEvent = 0;
    let chainError: unknown;

    const handle = async (m: TrainingThreadMessage): Promise<void> => {
      switch (m.type) {
        case 'backend':
          await this.runs.setBackend(fence, m.label);
          log.info({ backend: m.name, threads: m.threads, nhwcAddon: m.nhwcAddon, skipped: m.skipped }, 'compute backend selected');
          return this.emit({ type: 'status', jobId: job.id, status: 'running', backend: m.label, workerId: this.deps.workerId });
        case 'data':
          log.info({ train: m.train, val: m.val, test: m.test, clinicalColumns: m.clinicalColumns.length }, 'dataset loaded');
          return;
        case 'step': {
          const now = Date.now();
          if (now - lastStepEvent < 1000 / STEP_EVENTS_PER_SECOND && m.step !== m.stepsPerEpoch) return;
          lastStepEvent = now;
          const { type: _t, ...step } = m;
          return this.emit({ type: 'step', jobId: job.id, ...step });
        }
        case 'epoch':
          await this.runs.recordEpoch(
            fence,
            {
              epoch: m.epoch,
              metrics: m.metrics,
              learningRate: m.learningRate,
              samplesPerSecond: m.samplesPerSecond,
              durationSeconds: m.durationSeconds,
              valConfusionMatrix: m.valConfusionMatrix,
            },
            m.progress,
          );
          return this.emit({
            type: 'epoch',
            jobId: job.id,
            epoch: m.epoch,
            totalEpochs: m.totalEpochs,
            metrics: m.metrics,
            learningRate: m.learningRate,
            samplesPerSecond: m.samplesPerSecond,
            etaSeconds: m.etaSeconds,
            progress: m.progress,
          });
        case 'checkpoint': {
          const tc = job.trainingConfig;
          const row = await this.checkpoints.add({
            jobId: job.id,
            epoch: m.meta.epoch,
            step: m.meta.step,
            metrics: m.metrics,
            checkpointPath: m.location,
            fileSize: m.size,
            monitored: m.reason === 'epoch' ? { metric: tc.monitorMetric, mode: tc.monitorMode } : null,
          });
          await this.runs.setCheckpointPath(fence, m.location);
          for (const path of await this.checkpoints.prune(job.id, tc.keepLastCheckpoints)) await this.deps.store.delete(this.deps.store.keyOf(path));
          return this.emit({ type: 'checkpoint', jobId: job.id, checkpointId: row.id, epoch: row.epoch, step: row.step, isBest: row.isBest });
        }
        case 'completed': {
          const metrics = { ...scalarMetrics('val', m.val), ...scalarMetrics('test', m.test) };
          const model = await this.runs.complete(
            fence,
            {
              name: job.name,
              description: job.description,
              backbone: job.modelConfig.backbone,
              numClasses: job.modelConfig.numClasses,
              inputShape: {
                image: [job.modelConfig.imageSize, job.modelConfig.imageSize, job.modelConfig.imageChannels],
                clinical: [m.numClinical * 2],
              },
              accuracy: m.test.accuracy,
              loss: m.test.loss,
              metrics: {
                ...metrics,
                val_confusion_matrix: m.val.confusionMatrix,
                test_confusion_matrix: m.test.confusionMatrix,
                fusion: job.modelConfig.fusion,
                earlyStopped: m.earlyStopped,
              },
              modelPath: m.location,
              fileSize: m.size,
              format: 'tfjs-layers',
              trainingJobId: job.id,
              trainedEpochs: m.epochs,
              createdBy: job.owner,
              tags: [],
            },
            metrics,
          );
          result = 'completed';
          log.info({ modelId: model.id, metrics }, 'training job completed');
          return this.emit({ type: 'status', jobId: job.id, status: 'completed', modelId: model.id, metrics });
        }
        case 'halted': {
          if (m.kind === 'handback') {
            await this.runs.handBack(fence);
            result = 'handed-back';
            log.info({ epoch: m.epoch, step: m.step }, 'training job checkpointed and handed back');
            return this.emit({ type: 'status', jobId: job.id, status: 'queued' });
          }
          const status = m.kind === 'pause' ? 'paused' : 'stopped';
          await this.runs.release(fence, status);
          result = status;
          log.info({ epoch: m.epoch, step: m.step }, `training job ${status}`);
          return this.emit({ type: 'status', jobId: job.id, status });
        }
        case 'failed':
          result = 'failed';
          await this.runs.fail(fence, m.message);
          log.warn({ error: m.message }, 'training job failed');
          return this.emit({ type: 'status', jobId: job.id, status: 'failed', error: m.message });
      }
    };

    thread.on('message', (m: TrainingThreadMessage) => {
      chain = chain.then(() => handle(m)).catch((err: unknown) => {
        chainError ??= err;
        // Without the database the job cannot be recorded: stop the thread, report the cause.
        void thread.terminate();
      });
    });
    const poll = setInterval(() => {
      this.runs.desiredState(job.id).then(
        (desired) => {
          if (desired === 'pause' || desired === 'stop') this.request(job.id, desired);
        },
        (err: unknown) => log.warn({ err }, 'could not read the desired state'),
      );
    }, DESIRED_STATE_POLL_MS);

    const exit = await new Promise<{ code: number; error?: Error }>((resolve) => {
      let error: Error | undefined;
      thread.on('error', (e) => (error = e));
      thread.on('exit', (code) => resolve({ code, error }));
    });
    clearInterval(poll);
    this.controls.delete(job.id);
    await chain;
    if (chainError) throw chainError;
    if (result) return result;
    const reason = exit.error
      ? (exit.error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? 'out of memory: lower trainingConfig.batchSize or modelConfig.imageSize'
        : exit.error.message
      : `the training thread exited with code ${exit.code} without a result`;
    return this.failJob(fence, reason);
  }

  private async failJob(fence: RunFence, message: string): Promise<RunResult> {
    await this.runs.fail(fence, message);
    await this.emit({ type: 'status', jobId: fence.jobId, status: 'failed', error: message });
    this.deps.logger.warn({ jobId: fence.jobId, error: message }, 'training job failed');
    return 'failed';
  }

  /** Events are best effort: the durable record is the row; a Redis hiccup must not fail training. */
  private async emit(event: TrainingEvent): Promise<void> {
    await this.deps.events.publish(event).catch((err: unknown) => this.deps.logger.warn({ err, event: event.type }, 'could not publish event'));
  }
}
