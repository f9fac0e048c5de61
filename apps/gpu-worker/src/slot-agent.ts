import type { WorkerSlotRepository } from '@medfusion/persistence';
import type { Logger } from '@medfusion/runtime';
import type { RunResult } from './training-job-runner.js';

export interface SlotAgentDeps {
  slots: WorkerSlotRepository;
  workerId: string;
  /** Address other ranks reach this worker's collective servers at. */
  host: string;
  /** GPU_WORKER_DEVICES: one slot per device. */
  count: number;
  intervalMs: number;
  /** WORKER_HEARTBEAT_TTL_MS: the scheduler deems the worker dead after this long without a beat. */
  heartbeatTtlMs: number;
  logger: Logger;
  /** Starts rank `rank` of gang `attempt` of a job on this worker; resolves when the rank ends. */
  runRank(jobId: string, rank: number, attempt: number, slot: number): Promise<RunResult>;
  /** How many slots the training queue may use now (idle or running a single job); 0 pauses it. */
  onQueueCapacity(slots: number): void;
}

/**
 * Keeps this worker's slots in the registry (`worker_slots`) with a heartbeat, and on every beat
 * does what the scheduler decided: starts the gang ranks assigned to its slots, and tells the
 * queue consumer how many slots single-worker jobs may use (slots held for a waiting gang or
 * running a rank are not theirs).
 *
 * Every beat also reconciles the registry with what this worker really runs: a slot left busy
 * for a job it no longer runs (freeing it failed: a lost connection) is freed, and a slot that
 * runs a job here but came back idle is marked busy again. Before this a leaked slot stayed busy
 * for as long as the heartbeat kept it alive, and the worker claimed nothing while reporting ready.
 */
export class SlotAgent {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Shutting down: no new ranks, finished slots leave the registry. */
  private draining = false;
  private beating: Promise<void> = Promise.resolve();
  /** Ranks running here, by slot. */
  private readonly ranks = new Map<number, Promise<unknown>>();
  /** Ranks that ended here: a heartbeat read before their slot was freed must not start them again. */
  private readonly ended = new Set<string>();
  /** Single jobs running here, by slot: the truth the registry is reconciled with. */
  private readonly singles = new Map<number, string>();
  /** Jobs whose slot is being taken right now (the row may say so before `singles` does). */
  private readonly taking = new Map<string, number>();
  private lastBeatAt = Date.now();
  private lastBeatError: unknown;
  /** Why the registry disagrees with this worker and the last beat could not fix it. */
  private problem: string | undefined;

  constructor(private readonly deps: SlotAgentDeps) {}

  async start(): Promise<void> {
    await this.deps.slots.register(this.deps.workerId, this.deps.host, this.deps.count);
    this.schedule(0);
  }

  /**
   * Drains: free slots leave the registry at once (no gang is placed here any more), the ranks
   * running here end (the caller has asked them to hand back) while their slots keep
   * heartbeating, then the worker leaves the registry.
   */
  async stop(): Promise<void> {
    this.draining = true;
    await this.beating;
    await this.deps.slots.drain(this.deps.workerId);
    await Promise.allSettled([...this.ranks.values()]);
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
    await this.deps.slots.unregister(this.deps.workerId);
  }

  /** Takes an idle slot for a single job from the queue (null: none free, or a gang is reserving). */
  async takeForSingle(jobId: string): Promise<number | null> {
    this.taking.set(jobId, (this.taking.get(jobId) ?? 0) + 1);
    try {
      const slot = await this.deps.slots.takeForSingle(this.deps.workerId, jobId);
      if (slot !== null) this.singles.set(slot, jobId);
      return slot;
    } finally {
      const n = this.taking.get(jobId)! - 1;
      if (n > 0) this.taking.set(jobId, n);
      else this.taking.delete(jobId);
    }
  }

  /**
   * Frees a slot after its job left this worker (retired instead while draining). The job stops
   * counting as running here first: if the write fails, the next beat frees the slot.
   */
  async release(slot: number, jobId: string): Promise<void> {
    if (this.singles.get(slot) === jobId) this.singles.delete(slot);
    if (this.draining) await this.deps.slots.retire(this.deps.workerId, slot, jobId);
    else await this.deps.slots.free(this.deps.workerId, slot, jobId);
  }

  /**
   * Readiness: fails while the worker cannot take work: its heartbeat has failed for longer than
   * the TTL (the scheduler will consider it dead), or its slots disagree with the registry and the
   * last beat could not fix them.
   */
  async check(): Promise<void> {
    const silentMs = Date.now() - this.lastBeatAt;
    if (silentMs > this.deps.heartbeatTtlMs) {
      const cause = this.lastBeatError instanceof Error ? `: ${this.lastBeatError.message}` : '';
      throw new Error(`no slot heartbeat for ${Math.round(silentMs / 1000)} s${cause}`);
    }
    if (this.problem) throw new Error(this.problem);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat()
        .then(() => {
          this.lastBeatAt = Date.now();
          this.lastBeatError = undefined;
        })
        .catch((err: unknown) => {
          this.lastBeatError = err;
          this.deps.logger.warn({ err }, 'slot heartbeat failed; retrying');
        })
        .finally(() => this.schedule(this.deps.intervalMs));
    }, delayMs);
  }

  private async beat(): Promise<void> {
    if (this.draining) return this.deps.slots.touch(this.deps.workerId);
    const slots = await this.deps.slots.heartbeat(this.deps.workerId, this.deps.host, this.deps.count);
    if (this.stopped) return;
    const problems: string[] = [];
    for (const s of slots) {
      if (s.state === 'single') {
        if (this.singles.get(s.slot) === s.jobId || this.taking.has(s.jobId!)) continue;
        if (await this.freeLeaked(s.slot, s.jobId!, 'a single job that does not run here', problems)) s.state = 'idle';
        continue;
      }
      if (s.state !== 'gang' || this.ranks.has(s.slot)) continue;
      const key = `${s.jobId}/${s.rank}/${s.attempt}`;
      if (this.ended.has(key)) {
        // The rank ended here but freeing its slot failed.
        if (await this.freeLeaked(s.slot, s.jobId!, `gang rank ${s.rank} (attempt ${s.attempt}) that ended here`, problems)) s.state = 'idle';
        continue;
      }
      if (this.singles.has(s.slot)) {
        // Assigned while this worker's heartbeat lapsed and the slot looked free: it still runs a
        // single job. The rank never starts; its gang fails to join and the scheduler restarts it.
        problems.push(`slot ${s.slot} was given to gang rank ${s.rank} of job ${s.jobId} while it runs job ${this.singles.get(s.slot)} here`);
        continue;
      }
      this.launch(s.slot, s.jobId!, s.rank!, s.attempt!, key);
    }
    let running = 0;
    for (const [slot, jobId] of this.singles) {
      const row = slots.find((s) => s.slot === slot);
      if (row?.state === 'single' && row.jobId === jobId) {
        running++;
        continue;
      }
      if (row?.state === 'idle' && (await this.deps.slots.hold(this.deps.workerId, slot, jobId))) {
        this.deps.logger.warn({ slot, jobId }, 'slot came back idle while it runs a job here (its heartbeat lapsed); marked busy again');
        row.state = 'single';
        row.jobId = jobId;
        running++;
        continue;
      }
      problems.push(`slot ${slot} runs job ${jobId} here but the registry has it ${row ? `${row.state} for ${row.jobId}` : 'missing'}`);
    }
    this.problem = problems.length ? problems.join('; ') : undefined;
    // Only idle slots and the single jobs really running here are the queue's.
    this.deps.onQueueCapacity(slots.filter((s) => s.state === 'idle').length + running);
  }

  private async freeLeaked(slot: number, jobId: string, what: string, problems: string[]): Promise<boolean> {
    try {
      await this.deps.slots.free(this.deps.workerId, slot, jobId);
      this.deps.logger.warn({ slot, jobId }, `freed a slot the registry still held for ${what}`);
      return true;
    } catch (err) {
      this.deps.logger.warn({ err, slot, jobId }, 'could not free a leaked slot; retrying at the next heartbeat');
      problems.push(`slot ${slot} is held for ${what} (job ${jobId}) and could not be freed: ${(err as Error).message}`);
      return false;
    }
  }

  private launch(slot: number, jobId: string, rank: number, attempt: number, key: string): void {
    const log = this.deps.logger.child({ jobId, rank, attempt, slot });
    const run = this.deps
      .runRank(jobId, rank, attempt, slot)
      .then(
        (result) => log.info({ result }, 'gang rank ended'),
        (err: unknown) => log.error({ err }, 'gang rank crashed'),
      )
      .finally(async () => {
        this.ended.add(key);
        await this.release(slot, jobId).catch((err: unknown) => log.warn({ err }, 'could not free the slot; the next heartbeat frees it'));
        this.ranks.delete(slot);
      });
    this.ranks.set(slot, run);
  }
}
