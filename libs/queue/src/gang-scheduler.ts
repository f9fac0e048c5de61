import { planGangAdmission, type GangAdmissionSettings } from '@medfusion/domain';
import type { BrokenGang, GangRepository } from '@medfusion/persistence';
import type { Logger } from '@medfusion/runtime';
import type { TrainingEventPublisher } from './training-event-bus.js';

export interface GangSchedulerSettings extends GangAdmissionSettings {
  /** A slot without a heartbeat for this long is dead. */
  heartbeatTtlMs: number;
  /** Restarts of a broken gang before its job fails. */
  maxRestarts: number;
}

export interface GangPassReport {
  expiredSlots: number;
  /** Jobs whose gang broke, and what became of them. */
  repaired: Array<{ jobId: string; outcome: string; reason: string }>;
  admitted: Array<{ jobId: string; attempt: number; workers: string[] }>;
  reserved: number;
}

/**
 * One scheduling pass over multi-worker jobs, the counterpart of BullMQ for jobs that need a gang
 * of workers (they never enter the `training` queue: Postgres holds them, so Redis cannot lose
 * them). It removes dead worker slots, ends gangs that lost a rank (queued again to resume from
 * their last checkpoint, or failed after too many restarts), then admits waiting gangs all at once
 * as libs/domain's gang admission decides. Safe to run from several schedulers at once: every
 * change is a conditional update, and losing a race just means the next pass decides again.
 */
export class GangScheduler {
  constructor(
    private readonly deps: { gangs: GangRepository; events: TrainingEventPublisher; logger: Logger; settings: GangSchedulerSettings },
  ) {}

  async pass(now = new Date()): Promise<GangPassReport> {
    const { gangs, settings, logger } = this.deps;
    const report: GangPassReport = { expiredSlots: 0, repaired: [], admitted: [], reserved: 0 };

    const expired = await gangs.expireSlots(settings.heartbeatTtlMs);
    report.expiredSlots = expired.length;
    if (expired.length) logger.warn({ slots: expired }, 'removed worker slots that stopped heartbeating');

    const broken = new Map<string, BrokenGang[]>();
    for (const b of await gangs.brokenGangs()) broken.set(b.jobId, [...(broken.get(b.jobId) ?? []), b]);
    for (const [jobId, ranks] of broken) {
      const reason = describeBreak(ranks);
      const outcome = await gangs.endBrokenGang(jobId, ranks[0]!.attempt, reason, settings.maxRestarts);
      if (outcome === 'not-running') continue;
      report.repaired.push({ jobId, outcome, reason });
      logger.warn({ jobId, attempt: ranks[0]!.attempt, outcome, reason }, 'a gang lost a rank');
      await this.emit({ type: 'status', jobId, status: outcome, ...(outcome === 'failed' ? { error: reason } : { note: reason }), ranks: await gangs.ranksView(jobId) });
    }

    const [waiting, slots] = await Promise.all([gangs.waitingGangs(), gangs.liveSlots(settings.heartbeatTtlMs)]);
    if (!waiting.length && !slots.some((s) => s.state === 'reserved')) return report;
    for (const action of planGangAdmission(now, waiting, slots, settings)) {
      switch (action.kind) {
        case 'admit': {
          const outcome = await gangs.admit(action.jobId, action.slots, settings.heartbeatTtlMs);
          if (!outcome.admitted) {
            logger.debug({ jobId: action.jobId, reason: outcome.reason }, 'gang admission lost a race; the next pass decides again');
            break;
          }
          const workers = action.slots.map((s) => s.workerId);
          report.admitted.push({ jobId: action.jobId, attempt: outcome.attempt, workers });
          logger.info({ jobId: action.jobId, attempt: outcome.attempt, ranks: action.slots }, 'gang admitted');
          await this.emit({ type: 'status', jobId: action.jobId, status: 'running', workerId: workers[0], ranks: await gangs.ranksView(action.jobId) });
          break;
        }
        case 'reserve':
          report.reserved += await gangs.reserve(action.jobId, action.slots);
          break;
        case 'release':
          await gangs.release(action.jobId, action.restartWait);
          break;
        case 'note':
          await gangs.note(action.jobId, action.note);
          break;
      }
    }
    return report;
  }

  /** Events are best effort: the rows are the record. */
  private async emit(event: Parameters<TrainingEventPublisher['publish']>[0]): Promise<void> {
    await this.deps.events.publish(event).catch((err: unknown) => this.deps.logger.warn({ err, jobId: event.jobId }, 'could not publish gang event'));
  }
}

/**
 * Says why a gang broke, cause first: a rank that vanished (its worker stopped heartbeating or
 * restarted) explains its peers' collective errors, so it is named before them.
 */
export function describeBreak(ranks: BrokenGang[]): string {
  const vanished = ranks.filter((r) => r.rankStatus !== 'failed');
  const failed = ranks.filter((r) => r.rankStatus === 'failed');
  const parts = [
    ...vanished.map((r) => `rank ${r.rank} (worker ${r.workerId}) stopped running: its worker died, restarted or missed its heartbeats`),
    ...failed.map((r) => `rank ${r.rank} (worker ${r.workerId}) failed: ${r.rankError ?? 'no error recorded'}`),
  ];
  return parts.join('; ');
}
