import { availableParallelism } from 'node:os';
import { Worker as Thread } from 'node:worker_threads';
import { IsNull, type DataSource } from 'typeorm';
import type { ArtifactStore } from '@medfusion/artifacts';
import { RANK_LOSS_CODES } from '@medfusion/collective';
import { computeThreads, dataRoots, type Env } from '@medfusion/config';
import type { TrainingEvent } from '@medfusion/contracts';
import { mayUseFiles } from '@medfusion/domain';
import {
  ApiKeyEntity,
  DatasetEntity,
  GangRepository,
  ModelEntity,
  isGangJob,
  isTransientDbError,
  LostOwnershipError,
  TrainingCheckpointEntity,
  TrainingCheckpointRepository,
  TrainingJobEntity,
  TrainingRunRepository,
  type RankAssignment,
  type RunFence,
  withDbRetry,
} from '@medfusion/persistence';
import type { TrainingEventPublisher } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { scalarMetrics } from '@medfusion/training';
import { CONTROL, type TrainingThreadInput, type TrainingThreadMessage } from './thread-protocol.js';

/**
 * `held-elsewhere`: the job runs under a worker whose slot is alive; the queue should offer it again.
 * `retry-later`: the database stayed unreachable past DB_RETRY_MAX_MS; the job was handed back (or,
 * if even that failed, is left to the scheduler's requeue) and the queue should offer it again.
 */
export type RunResult = 'completed' | 'failed' | 'paused' | 'stopped' | 'handed-back' | 'not-claimed' | 'held-elsewhere' | 'lost' | 'rank-lost' | 'retry-later';

export interface TrainingJobRunnerDeps {
  ds: DataSource;
  env: Env;
  store: ArtifactStore;
  events: TrainingEventPublisher;
  logger: Logger;
  workerId: string;
}

/** One rank of a gang this worker runs. */
interface GangRank {
  assignment: RankAssignment;
}

/** A running job's control cell, and whether this worker runs it alone, as its gang's rank 0 or as another rank. */
interface RunningControl {
  cell: Int32Array;
  jobId: string;
  role: 'single' | 'root' | 'replica';
}

/** How often a rank waiting for its gang's other addresses reads the rendezvous record. */
const PEERS_POLL_MS = 200;

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
  private readonly gangs: GangRepository;
  /**
   * Keyed by job id for single jobs and rank 0 (whose requests reach the whole gang), by
   * `<job id>#<rank>` for other ranks: one worker may run several ranks of a job.
   */
  private readonly controls = new Map<string, RunningControl>();

  constructor(private readonly deps: TrainingJobRunnerDeps) {
    this.runs = new TrainingRunRepository(deps.ds, { heartbeatTtlMs: deps.env.WORKER_HEARTBEAT_TTL_MS });
    this.checkpoints = new TrainingCheckpointRepository(deps.ds);
    this.gangs = new GangRepository(deps.ds);
  }

  /** Asks a running job to pause, stop or hand back; it acts before its next step. */
  request(jobId: string, action: 'pause' | 'stop' | 'handback'): boolean {
    const cell = this.controls.get(jobId)?.cell;
    if (!cell) return false;
    // A hand-back (shutdown) wins over a user's pause/stop; otherwise the latest request wins.
    if (Atomics.load(cell, 0) !== CONTROL.handback) Atomics.store(cell, 0, CONTROL[action]);
    return true;
  }

  /**
   * Asks every job this worker runs to checkpoint and hand back (shutdown). Returns the jobs whose
   * rank 0 runs elsewhere: only their rank 0 can stop the gang in step, so the caller asks it over
   * the control channel.
   */
  handBackAll(): { singles: string[]; replicaOf: string[] } {
    const running = [...this.controls.values()];
    running.forEach((c) => Atomics.store(c.cell, 0, CONTROL.handback));
    const of = (role: RunningControl['role']) => running.filter((c) => c.role === role).map((c) => c.jobId);
    const roots = new Set(of('root'));
    return { singles: of('single'), replicaOf: [...new Set(of('replica'))].filter((id) => !roots.has(id)) };
  }

  get runningJobs(): string[] {
    return [...new Set([...this.controls.values()].map((c) => c.jobId))];
  }

  /** Runs a single-worker job taken from the queue. */
  async run(jobId: string): Promise<RunResult> {
    const log = this.deps.logger.child({ jobId });
    let row: TrainingJobEntity | null;
    let claim: Awaited<ReturnType<TrainingRunRepository['claim']>>;
    try {
      row = await this.db(log, 'read the job', () => this.deps.ds.getRepository(TrainingJobEntity).findOneBy({ id: jobId }));
      // Not repeated blindly: a claim whose connection died may have committed (attempt + 1), and
      // a second claim would then find the job held by this very worker and refuse it.
      claim = row && isGangJob(row) ? { claimed: false, job: row } : await this.claimOnce(jobId, log);
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      log.warn({ err }, 'database unreachable while claiming; the job goes back to the queue');
      return 'retry-later';
    }
    if (row && isGangJob(row)) {
      // Left in the queue by an older release: the gang scheduler admits it from its row.
      log.info({ workers: row.trainingConfig.resources.workers }, 'multi-worker job found in the queue; left to the gang scheduler');
      return 'not-claimed';
    }
    if (!claim.claimed) {
      if (claim.job?.status === 'running') {
        // The queue delivered a job that a live worker still holds (its lock lapsed while it
        // trains). Offer it again later: if that worker is in fact dead and no scheduler requeues
        // the job, the claim succeeds once its heartbeat is older than the TTL.
        log.info({ heldBy: claim.job.workerId }, 'training job held by a live worker; offered again later');
        return 'held-elsewhere';
      }
      log.info({ status: claim.job?.status ?? 'deleted' }, 'training job not claimable; skipping');
      return 'not-claimed';
    }
    const { fence, job } = claim;
    log.info({ attempt: fence.attempt }, 'training job claimed');
    return this.guard(job, fence, log, undefined);
  }

  /**
   * Runs rank `rank` of gang `attempt` of a multi-worker job, as the scheduler assigned it to this
   * worker's slot. Rank 0 records the job (fenced by the gang's attempt, like a single job's claim);
   * the other ranks only report their own rank's state.
   */
  async runRank(jobId: string, rank: number, attempt: number): Promise<RunResult> {
    const log = this.deps.logger.child({ jobId, rank, attempt });
    const assignment = await this.gangs.assignment(jobId, rank, attempt);
    const job = await this.deps.ds.getRepository(TrainingJobEntity).findOneBy({ id: jobId });
    if (!assignment || !job || job.status !== 'running' || job.attempts !== attempt) {
      log.info({ status: job?.status ?? 'deleted' }, 'gang assignment no longer current; skipping');
      return 'not-claimed';
    }
    log.info({ worldSize: assignment.worldSize }, 'gang rank starting');
    const fence = rank === 0 ? { jobId, workerId: this.deps.workerId, attempt } : undefined;
    return this.guard(job, fence, log, { assignment });
  }

  private async guard(job: TrainingJobEntity, fence: RunFence | undefined, log: Logger, gang: GangRank | undefined): Promise<RunResult> {
    try {
      return await this.train(job, fence, log, gang);
    } catch (err) {
      if (err instanceof LostOwnershipError) {
        log.warn({ err }, 'lost ownership of the training job; another worker has it');
        return 'lost';
      }
      if (isTransientDbError(err)) return this.handBackAfterDbLoss(job, fence, log, gang, err);
      const message = `worker ${this.deps.workerId} failed: ${(err as Error).message}`;
      await this.recordFailure(job, fence, gang, message, undefined).catch((e: unknown) => log.error({ err: e }, 'could not record the failure'));
      throw err;
    }
  }

  private async train(job: TrainingJobEntity, fence: RunFence | undefined, log: Logger, gang: GangRank | undefined): Promise<RunResult> {
    const dataset = job.datasetId ? await this.db(log, 'read the data set', () => this.deps.ds.getRepository(DatasetEntity).findOneBy({ id: job.datasetId! })) : null;
    if (!dataset) return this.failJob(job, fence, gang, `dataset ${job.dataConfig.datasetId} does not exist (deleted?); register it and submit the job again`);

    // Every rank of a gang resumes from the checkpoint the scheduler chose when it admitted the gang.
    const resumeId = gang?.assignment.resumeCheckpointId;
    const resume = await this.db(log, 'read the checkpoint to resume from', () =>
      gang ? (resumeId ? this.checkpoints.byId(resumeId) : Promise.resolve(null)) : this.checkpoints.latest(job.id),
    );
    if (gang && resumeId && !resume) return this.failJob(job, fence, gang, `checkpoint ${resumeId} to resume from was deleted`);
    if (fence) await this.db(log, 'truncate the history', () => this.runs.truncateHistory(fence, resume?.epoch ?? 0));
    if (resume) log.info({ epoch: resume.epoch, step: resume.step }, 'resuming from checkpoint');
    const stored = resume ? null : await this.storedWeights(job);
    if (typeof stored === 'string') return this.failJob(job, fence, gang, stored);
    const env = this.deps.env;
    const a = gang?.assignment;

    const control = new Int32Array(new SharedArrayBuffer(4));
    if (job.desiredState) Atomics.store(control, 0, CONTROL[job.desiredState]);
    const controlKey = fence ? job.id : `${job.id}#${a!.rank}`;
    this.controls.set(controlKey, { cell: control, jobId: job.id, role: !gang ? 'single' : fence ? 'root' : 'replica' });
    const input: TrainingThreadInput = {
      jobId: job.id,
      modelConfig: job.modelConfig,
      trainingConfig: job.trainingConfig,
      dataConfig: job.dataConfig,
      dataPath: dataset.dataPath,
      dataRoots: dataRoots(env),
      storedWeights: stored,
      artifactsDir: this.deps.env.ARTIFACTS_DIR,
      resumeFrom: resume ? this.deps.store.keyOf(resume.checkpointPath) : null,
      backend: this.deps.env.COMPUTE_BACKEND,
      computeThreads: computeThreads(this.deps.env, availableParallelism()),
      control: control.buffer as SharedArrayBuffer,
      collective: a && {
        rank: a.rank,
        worldSize: a.worldSize,
        attempt: a.attempt,
        token: a.token,
        bindHost: env.COLLECTIVE_BIND_HOST,
        port: env.COLLECTIVE_PORT === 0 ? 0 : env.COLLECTIVE_PORT + a.slot,
        dataPort: env.COLLECTIVE_DATA_PORT === 0 ? 0 : env.COLLECTIVE_DATA_PORT + a.slot,
        deadlineMs: env.COLLECTIVE_DEADLINE_MS,
        joinTimeoutMs: env.COLLECTIVE_JOIN_TIMEOUT_MS,
        bucketBytes: env.COLLECTIVE_BUCKET_BYTES,
      },
    };
    const thread = new Thread(new URL('./training-thread.js', import.meta.url), { workerData: input });
    let result: RunResult | undefined;
    let chain: Promise<void> = Promise.resolve();
    let lastStepEvent = 0;
    let chainError: unknown;

    const handle = async (m: TrainingThreadMessage): Promise<void> => {
      switch (m.type) {
        case 'backend':
          log.info({ backend: m.name, threads: m.threads, nhwcAddon: m.nhwcAddon, gemm: m.gemm, skipped: m.skipped }, 'compute backend selected');
          if (!fence) return;
          await this.runs.setBackend(fence, m.label);
          return this.emit({ type: 'status', jobId: job.id, status: 'running', backend: m.label, workerId: this.deps.workerId });
        case 'collective-listening': {
          await this.gangs.setListening(job.id, a!.rank, a!.attempt, m.port);
          const peers = await this.awaitPeers(a!);
          if (peers === 'replaced') {
            result = 'lost';
            void thread.terminate();
            return;
          }
          if (typeof peers === 'string') {
            // Rank loss before training began: the scheduler starts a new gang.
            result = 'rank-lost';
            await this.gangs.setRankStatus(job.id, a!.rank, a!.attempt, 'failed', peers);
            void thread.terminate();
            return;
          }
          log.info({ peers }, 'every rank of the gang listens; joining');
          thread.postMessage({ type: 'peers', peers });
          return;
        }
        case 'collective-joined':
          await this.gangs.setRankStatus(job.id, a!.rank, a!.attempt, 'training');
          if (a!.rank === 0) await this.emit({ type: 'status', jobId: job.id, status: 'running', workerId: this.deps.workerId, ranks: await this.gangs.ranksView(job.id) });
          return;
        case 'rank-finished':
          await this.gangs.setRankStatus(job.id, a!.rank, a!.attempt, 'finished');
          result = m.kind === 'completed' ? 'completed' : m.kind === 'handback' ? 'handed-back' : m.kind === 'pause' ? 'paused' : 'stopped';
          log.info({ outcome: m.kind }, 'gang rank finished');
          return;
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
          if (!fence) return;
          if (a && m.rankSamplesPerSecond) await this.gangs.setThroughput(job.id, a.attempt, m.rankSamplesPerSecond);
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
            ...(m.rankSamplesPerSecond ? { rankSamplesPerSecond: m.rankSamplesPerSecond } : {}),
          });
        case 'checkpoint': {
          if (!fence) return;
          const tc = job.trainingConfig;
          // Fenced first: a worker that lost the job must not add checkpoints another run resumes from.
          await this.runs.setCheckpointPath(fence, m.location);
          const row = await this.checkpoints.add({
            jobId: job.id,
            epoch: m.meta.epoch,
            step: m.meta.step,
            metrics: m.metrics,
            checkpointPath: m.location,
            fileSize: m.size,
            monitored: m.reason === 'epoch' ? { metric: tc.monitorMetric, mode: tc.monitorMode } : null,
          });
          for (const path of await this.checkpoints.prune(job.id, tc.keepLastCheckpoints)) await this.deps.store.delete(this.deps.store.keyOf(path));
          return this.emit({ type: 'checkpoint', jobId: job.id, checkpointId: row.id, epoch: row.epoch, step: row.step, isBest: row.isBest });
        }
        case 'completed': {
          if (!fence) return;
          const metrics = { ...scalarMetrics('val', m.val), ...scalarMetrics('test', m.test) };
          const model = await this.completeOnce(
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
          if (a) await this.gangs.setRankStatus(job.id, a.rank, a.attempt, 'finished');
          log.info({ modelId: model.id, metrics }, 'training job completed');
          return this.emit({ type: 'status', jobId: job.id, status: 'completed', modelId: model.id, metrics });
        }
        case 'halted': {
          if (!fence) return;
          if (a) await this.gangs.setRankStatus(job.id, a.rank, a.attempt, 'finished');
          if (m.kind === 'handback') {
            await this.finalWrite(fence, ['queued'], () => this.runs.handBack(fence));
            result = 'handed-back';
            log.info({ epoch: m.epoch, step: m.step }, 'training job checkpointed and handed back');
            return this.emit({ type: 'status', jobId: job.id, status: 'queued' });
          }
          const status = m.kind === 'pause' ? 'paused' : 'stopped';
          await this.finalWrite(fence, [status], () => this.runs.release(fence, status));
          result = status;
          log.info({ epoch: m.epoch, step: m.step }, `training job ${status}`);
          return this.emit({ type: 'status', jobId: job.id, status });
        }
        case 'failed':
          result = await this.recordFailure(job, fence, gang, m.message, m.code);
          log.warn({ error: m.message, code: m.code }, result === 'rank-lost' ? 'gang rank lost its peers; the scheduler starts a new gang' : 'training job failed');
          return;
      }
    };

    thread.on('message', (m: TrainingThreadMessage) => {
      // Every message's writes are safe to repeat (an epoch replaces its entry, a checkpoint file
      // is added once, final states are checked against the row), so a lost connection is retried
      // while the thread trains on; the messages wait their turn.
      chain = chain
        .then(() => (chainError ? undefined : this.db(log, `record ${m.type}`, () => handle(m))))
        .catch((err: unknown) => {
          chainError ??= err;
          // Without the database the job cannot be recorded: stop the thread, report the cause.
          void thread.terminate();
        });
    });
    const poll = setInterval(() => {
      if (!fence) return; // only rank 0's control reaches the gang
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
    this.controls.delete(controlKey);
    await chain;
    if (chainError) throw chainError;
    if (result) return result;
    const reason = exit.error
      ? (exit.error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? 'out of memory: lower trainingConfig.batchSize or modelConfig.imageSize'
        : exit.error.message
      : `the training thread exited with code ${exit.code} without a result`;
    return this.failJob(job, fence, gang, reason);
  }

  /** Runs a database call, repeating it while the connection is lost, for at most DB_RETRY_MAX_MS. */
  private db<T>(log: Logger, what: string, op: () => Promise<T>): Promise<T> {
    return withDbRetry(op, {
      maxMs: this.deps.env.DB_RETRY_MAX_MS,
      onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, `database unreachable; retrying to ${what}`),
    });
  }

  /**
   * Claims the job, retrying a lost connection only when the first try certainly did not commit:
   * a repeated claim after a committed one would find the job held by this worker and refuse it.
   */
  private async claimOnce(jobId: string, log: Logger): Promise<Awaited<ReturnType<TrainingRunRepository['claim']>>> {
    let tried = false;
    return this.db(log, 'claim the job', async () => {
      if (tried && !this.runningJobs.includes(jobId)) {
        const before = await this.deps.ds.getRepository(TrainingJobEntity).findOneBy({ id: jobId });
        if (before?.status === 'running' && before.workerId === this.deps.workerId) {
          // The try whose connection died committed: this worker owns the job.
          return { claimed: true as const, fence: { jobId, workerId: this.deps.workerId, attempt: before.attempts }, job: before };
        }
      }
      tried = true;
      return this.runs.claim(jobId, this.deps.workerId);
    });
  }

  /**
   * A final write (hand back, pause, stop, fail): when it finds the job no longer ours, the row may
   * already hold it from an earlier try whose connection died after the commit; then it is done.
   */
  private async finalWrite(fence: RunFence, statuses: string[], op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (err) {
      if (err instanceof LostOwnershipError && (await this.runs.finishedAs(fence, statuses))) return;
      throw err;
    }
  }

  /** `complete`, safe to repeat after a lost connection (the model row of the first commit is returned). */
  private async completeOnce(fence: RunFence, model: Omit<ModelEntity, 'id' | 'createdAt'>, metrics: Record<string, number>): Promise<ModelEntity> {
    try {
      return await this.runs.complete(fence, model, metrics);
    } catch (err) {
      if (!(err instanceof LostOwnershipError) || !(await this.runs.finishedAs(fence, ['completed']))) throw err;
      const saved = await this.deps.ds.getRepository(ModelEntity).findOne({ where: { trainingJobId: fence.jobId }, order: { createdAt: 'DESC' } });
      if (!saved) throw err;
      return saved;
    }
  }

  /**
   * The database stayed unreachable past DB_RETRY_MAX_MS: the job is not failed (nothing is wrong
   * with it) but handed back to resume from its last checkpoint. A single job goes back to
   * `queued` (if even that write fails, the scheduler requeues it once this worker's slot is free);
   * a gang rank is marked failed as a lost rank, and the scheduler restarts the gang.
   */
  private async handBackAfterDbLoss(job: TrainingJobEntity, fence: RunFence | undefined, log: Logger, gang: GangRank | undefined, cause: unknown): Promise<RunResult> {
    log.warn({ err: cause }, `database unreachable for DB_RETRY_MAX_MS (${this.deps.env.DB_RETRY_MAX_MS} ms); handing the job back to resume from its last checkpoint`);
    try {
      if (gang) {
        const { rank, attempt } = gang.assignment;
        await this.db(log, 'mark the rank lost', () => this.gangs.setRankStatus(job.id, rank, attempt, 'failed', `database unreachable: ${(cause as Error).message}`));
        return 'rank-lost';
      }
      await this.db(log, 'hand the job back', () => this.finalWrite(fence!, ['queued'], () => this.runs.handBack(fence!)));
      await this.emit({ type: 'status', jobId: job.id, status: 'queued' });
    } catch (err) {
      if (err instanceof LostOwnershipError) return 'lost';
      log.error({ err }, 'could not hand the job back; the scheduler queues it again once this worker frees its slot');
    }
    return gang ? 'rank-lost' : 'retry-later';
  }

  /**
   * The stored file of `modelConfig.initialWeights`, checked again against the job's owner (the
   * gateway checked the submitter; a sweep's trials and older rows come by other ways): null when
   * the job names none, else its location, or a message saying why the job cannot start from it.
   */
  private async storedWeights(job: TrainingJobEntity): Promise<TrainingThreadInput['storedWeights'] | string> {
    const ref = job.modelConfig.initialWeights;
    if (!ref) return null;
    // The job's owner's rights: an owner holding a live admin key may use anyone's weights, as at submission.
    const admin = await this.deps.ds.getRepository(ApiKeyEntity).existsBy({ owner: job.owner, role: 'admin', revokedAt: IsNull() });
    const principal = { keyId: '', owner: job.owner, role: admin ? ('admin' as const) : ('member' as const) };
    if ('modelId' in ref) {
      const model = await this.deps.ds.getRepository(ModelEntity).findOneBy({ id: ref.modelId });
      if (!model || !mayUseFiles(principal, model.createdBy)) return `modelConfig.initialWeights.modelId: no model with id ${ref.modelId} whose weights ${job.owner} may use (deleted?)`;
      return { location: model.modelPath, label: 'modelConfig.initialWeights.modelId' };
    }
    const ckpt = await this.deps.ds.getRepository(TrainingCheckpointEntity).findOneBy({ id: ref.checkpointId });
    const source = ckpt ? await this.deps.ds.getRepository(TrainingJobEntity).findOne({ where: { id: ckpt.jobId }, select: { id: true, owner: true } }) : null;
    if (!ckpt || !source || !mayUseFiles(principal, source.owner)) {
      return `modelConfig.initialWeights.checkpointId: no checkpoint with id ${ref.checkpointId} whose weights ${job.owner} may use (deleted, or pruned by keepLastCheckpoints?)`;
    }
    return { location: ckpt.checkpointPath, label: 'modelConfig.initialWeights.checkpointId' };
  }

  /**
   * Waits until every rank of the gang has published its address. Resolves with the addresses,
   * 'replaced' when the scheduler replaced the gang meanwhile, or a message naming the ranks that
   * never listened within the join timeout.
   */
  private async awaitPeers(a: RankAssignment): Promise<Array<{ host: string; port: number }> | 'replaced' | string> {
    const deadline = Date.now() + this.deps.env.COLLECTIVE_JOIN_TIMEOUT_MS;
    for (;;) {
      const peers = await this.gangs.peers(a.jobId, a.attempt);
      if (peers !== null) return peers;
      if (Date.now() >= deadline) {
        const missing = (await this.gangs.ranksOf(a.jobId)).filter((r) => r.attempt === a.attempt && r.port === null).map((r) => `rank ${r.rank} (worker ${r.workerId})`);
        return `${missing.join(', ')} did not start listening within COLLECTIVE_JOIN_TIMEOUT_MS (${this.deps.env.COLLECTIVE_JOIN_TIMEOUT_MS} ms)`;
      }
      await new Promise((r) => setTimeout(r, PEERS_POLL_MS));
    }
  }

  /**
   * Records a failure where it belongs: a single job fails; a gang rank that lost its peers (a
   * collective rank-loss code) marks only its rank failed, and the scheduler starts a new gang from
   * the last checkpoint; any other failure of a gang fails the job, naming the rank.
   */
  private async recordFailure(job: TrainingJobEntity, fence: RunFence | undefined, gang: GangRank | undefined, message: string, code: string | undefined): Promise<RunResult> {
    if (!gang) {
      await this.finalWrite(fence!, ['failed'], () => this.runs.fail(fence!, message));
      await this.emit({ type: 'status', jobId: job.id, status: 'failed', error: message });
      return 'failed';
    }
    const { rank, attempt } = gang.assignment;
    await this.gangs.setRankStatus(job.id, rank, attempt, 'failed', message);
    if (code !== undefined && RANK_LOSS_CODES.has(code)) return 'rank-lost';
    const error = `rank ${rank} (worker ${this.deps.workerId}): ${message}`;
    if (await this.gangs.failGang(job.id, attempt, error)) await this.emit({ type: 'status', jobId: job.id, status: 'failed', error, ranks: await this.gangs.ranksView(job.id) });
    return 'failed';
  }

  private async failJob(job: TrainingJobEntity, fence: RunFence | undefined, gang: GangRank | undefined, message: string): Promise<RunResult> {
    const result = await this.recordFailure(job, fence, gang, message, undefined);
    this.deps.logger.warn({ jobId: job.id, error: message }, 'training job failed');
    return result;
  }

  /** Events are best effort: the durable record is the row; a Redis hiccup must not fail training. */
  private async emit(event: TrainingEvent): Promise<void> {
    await this.deps.events.publish(event).catch((err: unknown) => this.deps.logger.warn({ err, event: event.type }, 'could not publish event'));
  }
}
