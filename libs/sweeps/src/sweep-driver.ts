import { trialTrainingJob, TrialParamsError, type CreateSweep, type CreateTrainingJob, type SweepEvent, type SweepTrialState } from '@medfusion/contracts';
import { isGangJob, type NewTrial, type PrunerDecision, type SweepEntity, type SweepRepository, type TrainingJobEntity, type TrialEntity } from '@medfusion/persistence';
import type { TrainingControlRequester, TrainingQueue } from '@medfusion/queue';
import type { Logger } from '@medfusion/runtime';
import { completeParamsUniformly, GridError, RNG_PURPOSE, tuningRng, type Pruner, type Sampler } from '@medfusion/tuning';
import { z } from 'zod';
import { prunerFor, samplerFor } from './sweep-optimizers.js';
import { bestTrial, countTrialStates, objectiveCurve, toTuningTrial, toTuningTrials } from './trial-records.js';

export interface SweepDriverDeps {
  sweeps: SweepRepository;
  queue: Pick<TrainingQueue, 'enqueue'>;
  controls: Pick<TrainingControlRequester, 'request'>;
  events: { publish(event: SweepEvent): Promise<void> };
  logger: Logger;
  /** Milliseconds since the epoch; tests move time for the duration budget. */
  now?: () => number;
}

export interface ReconcileSweepsReport {
  driven: string[];
  failed: { sweepId: string; error: string }[];
}

/**
 * Drives sweeps from their rows in Postgres. A pass over one sweep reads its trials and their
 * training jobs, records what the jobs reported (intermediate values per epoch, final values),
 * asks the pruner about every new epoch and stops pruned trials' jobs through the training control
 * path, starts trials (enqueued ones first) while fewer than `parallelism` run and the budget
 * allows, and ends the sweep when the budget is spent and nothing runs.
 *
 * The driver keeps no state a restart would lose: everything it decides from is in the rows, and
 * samplers and pruners are pure functions of them. Passes over one sweep never overlap within a
 * process; across processes, conditional updates and the unique trial number keep a second driver
 * from moving a trial twice or creating one twice.
 */
export class SweepDriver {
  private readonly lanes = new Map<string, { tail: Promise<void>; queued?: Promise<void> }>();
  private readonly samplers = new Map<string, Sampler>();
  private readonly now: () => number;

  constructor(private readonly deps: SweepDriverDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Runs a pass over the sweep after the one in progress, if any. Calls that arrive while a pass
   * is already waiting share it, so a burst of events costs one extra pass.
   */
  drive(sweepId: string): Promise<void> {
    let lane = this.lanes.get(sweepId);
    if (!lane) {
      lane = { tail: Promise.resolve() };
      this.lanes.set(sweepId, lane);
    }
    if (lane.queued) return lane.queued;
    const l = lane;
    const run = l.tail.then(() => {
      l.queued = undefined;
      return this.pass(sweepId);
    });
    l.queued = run;
    l.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once no pass is running or waiting (for a graceful shutdown). */
  async settle(): Promise<void> {
    while ([...this.lanes.values()].some((l) => l.queued)) await Promise.all([...this.lanes.values()].map((l) => l.tail));
    await Promise.all([...this.lanes.values()].map((l) => l.tail));
  }

  /** One pass over every running or stopping sweep; a failing sweep does not hold up the others. */
  async reconcileAll(): Promise<ReconcileSweepsReport> {
    const report: ReconcileSweepsReport = { driven: [], failed: [] };
    for (const id of await this.deps.sweeps.activeSweepIds()) {
      try {
        await this.drive(id);
        report.driven.push(id);
      } catch (err) {
        report.failed.push({ sweepId: id, error: (err as Error).message });
        this.deps.logger.error({ err, sweepId: id }, 'sweep pass failed; the next pass retries');
      }
    }
    return report;
  }

  /** Drives the sweep a training job belongs to, if any (the job reported an epoch or a status). */
  async onTrainingJobEvent(trainingJobId: string): Promise<void> {
    const sweepId = await this.deps.sweeps.sweepIdOfTrainingJob(trainingJobId);
    if (sweepId) await this.drive(sweepId);
  }

  private async pass(sweepId: string): Promise<void> {
    const sweep = await this.deps.sweeps.findById(sweepId);
    if (!sweep || (sweep.status !== 'running' && sweep.status !== 'stopping')) {
      this.samplers.delete(sweepId);
      return;
    }
    const trials = await this.deps.sweeps.allTrials(sweepId);
    const jobIds = trials.filter((t) => t.state === 'running' && t.trainingJobId).map((t) => t.trainingJobId!);
    const jobs = new Map((await this.deps.sweeps.trainingJobs(jobIds)).map((j) => [j.id, j]));
    const pruner = prunerFor(sweep.config);
    for (const trial of trials) {
      if (trial.state === 'running') await this.follow(sweep, trial, trial.trainingJobId ? jobs.get(trial.trainingJobId) : undefined, trials, pruner);
    }

    let budgetSpent: string | null = null;
    if (sweep.status === 'running') {
      const outcome = await this.startTrials(sweep, trials);
      if (outcome.failed) return this.end(sweep, trials, 'failed', 'sampler_error', outcome.failed);
      budgetSpent = outcome.budgetSpent;
    }

    const running = trials.some((t) => t.state === 'running');
    if (!running && sweep.status === 'stopping') {
      for (const t of trials.filter((x) => x.state === 'waiting')) await this.finishTrial(sweep, t, 'waiting', 'stopped', {});
      return this.end(sweep, trials, 'stopped', 'stopped', null);
    }
    if (!running && budgetSpent) {
      const anyComplete = trials.some((t) => t.state === 'complete');
      return this.end(sweep, trials, anyComplete ? 'completed' : 'failed', budgetSpent, anyComplete ? null : `no trial completed (${describeCounts(trials)})`);
    }
    await this.progress(sweep, trials);
  }

  /** Brings one running trial up to date with its training job. */
  private async follow(sweep: SweepEntity, trial: TrialEntity, job: TrainingJobEntity | undefined, trials: TrialEntity[], pruner: Pruner | null): Promise<unknown> {
    const cfg = sweep.config;
    if (!job) return this.finishTrial(sweep, trial, 'running', 'failed', { error: `its training job ${trial.trainingJobId ?? '(none)'} no longer exists` });

    const curve = objectiveCurve(job.history, cfg.objectives[0]!.metric);
    const newSteps = Object.keys(curve).filter((s) => trial.intermediateValues[s] !== curve[s]);
    if (newSteps.length) {
      if (!(await this.deps.sweeps.updateTrial(trial.id, 'running', { intermediateValues: curve }))) return;
      trial.intermediateValues = curve;
      for (const s of newSteps) this.emit({ type: 'trial-reported', sweepId: sweep.id, trialId: trial.id, number: trial.number, step: Number(s), value: curve[s]! });
    }

    switch (job.status) {
      case 'completed': {
        const values = cfg.objectives.map((o) => job.currentMetrics?.[o.metric]);
        const missing = cfg.objectives.filter((_, i) => !Number.isFinite(values[i]));
        if (missing.length) {
          return this.finishTrial(sweep, trial, 'running', 'failed', {
            error: `training job ${job.id} completed without a finite ${missing.map((o) => o.metric).join(', ')} (metrics: ${Object.keys(job.currentMetrics ?? {}).join(', ') || 'none'})`,
          });
        }
        return this.finishTrial(sweep, trial, 'running', 'complete', { values: values as number[] });
      }
      case 'failed':
        return this.finishTrial(sweep, trial, 'running', 'failed', { error: job.error ?? `training job ${job.id} failed` });
      case 'stopped':
        return sweep.status === 'stopping'
          ? this.finishTrial(sweep, trial, 'running', 'stopped', {})
          : this.finishTrial(sweep, trial, 'running', 'failed', { error: `training job ${job.id} was stopped outside the sweep` });
      default:
        break;
    }

    if (sweep.status === 'stopping') {
      if (job.desiredState !== 'stop') await this.stopJob(job.id, sweep.id, trial.number);
      return;
    }
    if (pruner) await this.askPruner(sweep, trial, job, trials, pruner);
  }

  /** Asks the pruner about each epoch reported since it was last asked, in order, until it prunes. */
  private async askPruner(sweep: SweepEntity, trial: TrialEntity, job: TrainingJobEntity, trials: TrialEntity[], pruner: Pruner): Promise<void> {
    const asked = trial.prunerDecisions.reduce((m, d) => Math.max(m, d.step), -1);
    const steps = Object.keys(trial.intermediateValues).map(Number).filter((s) => s > asked).sort((a, b) => a - b);
    if (!steps.length) return;
    const self = toTuningTrial(trial)!;
    const all = toTuningTrials(trials);
    const decisions: PrunerDecision[] = [...trial.prunerDecisions];
    let prunedAt: number | null = null;
    for (const step of steps) {
      const prune = pruner.shouldPrune(self, all, step);
      decisions.push({ step, prune });
      if (prune) {
        prunedAt = step;
        break;
      }
    }
    if (prunedAt === null) {
      if (await this.deps.sweeps.updateTrial(trial.id, 'running', { prunerDecisions: decisions })) trial.prunerDecisions = decisions;
      return;
    }
    const ok = await this.finishTrial(sweep, trial, 'running', 'pruned', { prunerDecisions: decisions }, { step: prunedAt, value: trial.intermediateValues[String(prunedAt)]! });
    if (ok) await this.stopJob(job.id, sweep.id, trial.number);
  }

  /**
   * The training control path frees the worker: queued jobs stop at once (then one more pass
   * records it, as no worker will report it), running ones after their current step.
   */
  private async stopJob(jobId: string, sweepId: string, number: number): Promise<void> {
    try {
      const job = await this.deps.controls.request(jobId, 'stop');
      if (job.status === 'stopped') void this.drive(sweepId).catch((err: unknown) => this.deps.logger.error({ err, sweepId }, 'sweep pass failed; the next pass retries'));
    } catch (err) {
      // The job reached a final state on its own meanwhile; the next pass records it.
      this.deps.logger.warn({ err, sweepId, trial: number, jobId }, 'could not stop a trial’s training job');
    }
  }

  /** Starts trials while slots and budget allow; says why it stopped when the budget is spent. */
  private async startTrials(sweep: SweepEntity, trials: TrialEntity[]): Promise<{ budgetSpent: string | null; failed?: string }> {
    const cfg = sweep.config;
    let running = trials.filter((t) => t.state === 'running').length;
    let started = trials.filter((t) => t.state !== 'waiting').length;
    const deadline = cfg.budget.maxDurationSeconds === undefined ? Infinity : sweep.startedAt.getTime() + cfg.budget.maxDurationSeconds * 1000;
    while (true) {
      if (this.now() >= deadline) return { budgetSpent: 'max_duration' };
      if (started >= cfg.budget.maxTrials) return { budgetSpent: 'max_trials' };
      if (running >= cfg.parallelism) return { budgetSpent: null };
      const waiting = trials.find((t) => t.state === 'waiting');
      const number = waiting ? waiting.number : trials.reduce((m, t) => Math.max(m, t.number + 1), 0);
      let params: Record<string, string | number | boolean>;
      let samplerAttrs: Record<string, number> = {};
      if (waiting) {
        // Parameters the user left out are drawn at random, as Optuna does for enqueued trials.
        params = completeParamsUniformly(cfg.searchSpace, waiting.params, tuningRng(cfg.seed, number, RNG_PURPOSE.random));
      } else {
        try {
          const directions = cfg.objectives.map((o) => o.direction);
          ({ params, samplerAttrs } = this.samplerOf(sweep).propose({ space: cfg.searchSpace, trials: toTuningTrials(trials), trialNumber: number, seed: cfg.seed, directions }));
        } catch (err) {
          if (err instanceof GridError) return { budgetSpent: 'grid_exhausted' };
          return { budgetSpent: null, failed: `sampler ${cfg.sampler.type} failed to propose trial ${number}: ${(err as Error).message}` };
        }
      }
      const outcome = await this.startTrial(sweep, trials, waiting, { number, params, samplerAttrs });
      if (outcome === 'lost-race') return { budgetSpent: null }; // another pass started it; the next pass goes on
      started++;
      if (outcome === 'started') running++;
    }
  }

  /** Starts trial `next.number` (the waiting one, if given); `lost-race` when another pass got there first. */
  private async startTrial(sweep: SweepEntity, trials: TrialEntity[], waiting: TrialEntity | undefined, next: Omit<NewTrial, 'waitingTrialId'>): Promise<'started' | 'invalid' | 'lost-race'> {
    const { number, params } = next;
    let job: CreateTrainingJob;
    try {
      // The description links the job back to its sweep for whoever meets it under /training-jobs.
      const base = { ...sweep.config.baseTrainingJob, description: `Trial ${number} of sweep ${sweep.id}. ${sweep.config.baseTrainingJob.description}`.trim() };
      job = trialTrainingJob(base, params, `${sweep.name} trial ${number}`);
    } catch (err) {
      if (!(err instanceof z.ZodError || err instanceof TrialParamsError)) throw err;
      // A combination of values the per-parameter checks at creation could not see: the trial fails, the sweep goes on.
      const error = `parameters ${JSON.stringify(params)} do not give a valid training job: ${err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : err.message}`;
      return (await this.recordInvalidTrial(sweep, trials, waiting, next, error)) ? 'invalid' : 'lost-race';
    }
    const result = await this.deps.sweeps.startTrial(sweep.id, sweep.owner, { ...next, waitingTrialId: waiting?.id }, job);
    if (!result) return 'lost-race';
    if (waiting) trials.splice(trials.indexOf(waiting), 1, result.trial);
    else trials.push(result.trial);
    try {
      // A multi-worker trial job is admitted by the gang scheduler from its row, not queued.
      if (!isGangJob(result.job)) await this.deps.queue.enqueue(result.job.id);
    } catch (err) {
      // The row is queued in Postgres; the training-queue reconciler adds it to Redis later.
      this.deps.logger.error({ err, sweepId: sweep.id, trial: number, jobId: result.job.id }, 'trial job saved but not queued; the reconciler will queue it');
    }
    this.emit({ type: 'trial-started', sweepId: sweep.id, trialId: result.trial.id, number, params, trainingJobId: result.job.id });
    return 'started';
  }

  private async recordInvalidTrial(sweep: SweepEntity, trials: TrialEntity[], waiting: TrialEntity | undefined, next: Omit<NewTrial, 'waitingTrialId'>, error: string): Promise<boolean> {
    const { number, params, samplerAttrs } = next;
    const now = new Date();
    let trial: TrialEntity | null;
    if (waiting) {
      const ok = await this.deps.sweeps.updateTrial(waiting.id, 'waiting', { state: 'failed', params, samplerAttrs, error, startedAt: now, finishedAt: now, duration: 0 });
      trial = ok ? Object.assign(waiting, { state: 'failed' as const, params, samplerAttrs, error }) : null;
    } else {
      trial = await this.deps.sweeps.insertFailedTrial(sweep.id, { number, params, samplerAttrs }, error);
      if (trial) trials.push(trial);
    }
    if (trial) this.emit({ type: 'trial-finished', sweepId: sweep.id, trialId: trial.id, number, state: 'failed', error });
    return trial !== null;
  }

  private async finishTrial(
    sweep: SweepEntity,
    trial: TrialEntity,
    from: SweepTrialState,
    to: SweepTrialState,
    patch: Partial<Pick<TrialEntity, 'values' | 'error' | 'prunerDecisions'>>,
    prunedAt?: { step: number; value: number },
  ): Promise<boolean> {
    const finishedAt = new Date(this.now());
    const duration = trial.startedAt ? (finishedAt.getTime() - trial.startedAt.getTime()) / 1000 : null;
    const fields = { ...patch, state: to, finishedAt, duration };
    if (!(await this.deps.sweeps.updateTrial(trial.id, from, fields))) return false;
    Object.assign(trial, fields);
    const ref = { sweepId: sweep.id, trialId: trial.id, number: trial.number };
    if (prunedAt) this.emit({ type: 'trial-pruned', ...ref, ...prunedAt });
    this.emit({ type: 'trial-finished', ...ref, state: to, ...(patch.values && { values: patch.values }), ...(patch.error && { error: patch.error }) });
    return true;
  }

  private async end(sweep: SweepEntity, trials: TrialEntity[], status: 'completed' | 'stopped' | 'failed', reason: string, error: string | null): Promise<void> {
    const best = bestTrial(trials, sweep.config.objectives);
    const trialCounts = countTrialStates(trials);
    const ended = await this.deps.sweeps.finish(sweep.id, status, { finishReason: reason, error, bestTrialId: best?.id ?? null, trialCounts });
    this.samplers.delete(sweep.id);
    if (!ended) return;
    this.deps.logger.info({ sweepId: sweep.id, status, reason, trialCounts, bestTrial: best?.number }, 'sweep ended');
    this.emit({ type: 'sweep-status', sweepId: sweep.id, status, trialCounts, bestTrialId: best?.id ?? null, ...(error && { error }) });
  }

  private async progress(sweep: SweepEntity, trials: TrialEntity[]): Promise<void> {
    const best = bestTrial(trials, sweep.config.objectives)?.id ?? null;
    const trialCounts = countTrialStates(trials);
    if (best === sweep.bestTrialId && sameCounts(trialCounts, sweep.trialCounts)) return;
    await this.deps.sweeps.setProgress(sweep.id, trialCounts, best);
    this.emit({ type: 'sweep-status', sweepId: sweep.id, status: sweep.status, trialCounts, bestTrialId: best });
  }

  /** One sampler per sweep, kept between passes so its memoised work (CMA-ES replays) is reused. */
  private samplerOf(sweep: SweepEntity): Sampler {
    let s = this.samplers.get(sweep.id);
    if (!s) {
      s = samplerFor(sweep.config as CreateSweep);
      this.samplers.set(sweep.id, s);
    }
    return s;
  }

  /** Events are for watchers; the rows are the record, so a failed publish is logged, not fatal. */
  private emit(event: SweepEvent): void {
    this.deps.events.publish(event).catch((err: unknown) => this.deps.logger.warn({ err, event: event.type, sweepId: event.sweepId }, 'could not publish a sweep event'));
  }
}

function sameCounts(a: Partial<Record<string, number>>, b: Partial<Record<string, number>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

function describeCounts(trials: readonly TrialEntity[]): string {
  return Object.entries(countTrialStates(trials))
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
}
