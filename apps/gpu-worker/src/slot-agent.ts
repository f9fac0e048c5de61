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

  /** Single-worker jobs' slots, freed by the queue consumer: retired instead while draining. */
  async release(slot: number, jobId: string): Promise<void> {
    if (this.draining) await this.deps.slots.retire(this.deps.workerId, slot, jobId);
    else await this.deps.slots.free(this.deps.workerId, slot, jobId);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'slot heartbeat failed; retrying'))
        .finally(() => this.schedule(this.deps.intervalMs));
    }, delayMs);
  }

  private async beat(): Promise<void> {
    if (this.draining) return this.deps.slots.touch(this.deps.workerId);
    const slots = await this.deps.slots.heartbeat(this.deps.workerId, this.deps.host, this.deps.count);
    if (this.stopped) return;
    for (const s of slots) {
      if (s.state !== 'gang' || this.ranks.has(s.slot)) continue;
      const key = `${s.jobId}/${s.rank}/${s.attempt}`;
      if (this.ended.has(key)) continue;
      this.launch(s.slot, s.jobId!, s.rank!, s.attempt!, key);
    }
    this.deps.onQueueCapacity(slots.filter((s) => s.state === 'idle' || s.state === 'single').length);
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
        await this.release(slot, jobId).catch((err: unknown) => log.warn({ err }, 'could not free the slot; the scheduler will once its heartbeat stops'));
        this.ranks.delete(slot);
      });
    this.ranks.set(slot, run);
  }
}
