/**
 * Gang admission: which waiting multi-worker training jobs start now, on which worker slots, and
 * which slots are held back for a gang that has waited too long. Pure: the scheduler feeds it the
 * live slots and the waiting gangs read from Postgres and carries out what it returns in short
 * transactions (libs/persistence GangRepository), so the policy is tested without a database.
 *
 * The rules, in the order users meet them:
 * - All or nothing: a gang of N starts only on N slots that are free at once; no rank starts
 *   before the others have a slot.
 * - Single-worker jobs keep using free slots while a gang waits. A gang that has waited
 *   `reserveAfterMs` becomes the one gang that reserves: every slot that frees up is held for it
 *   (single jobs no longer get it: workers check that no gang reserves before they take a slot)
 *   until it has N. Only one gang reserves at a time, so two gangs
 *   cannot each hold part of what the other needs (the classic partial-gang deadlock).
 * - A reservation that has not completed within `reservationTimeoutMs` is released and the gang's
 *   wait starts over, so no partial gang holds slots forever; single jobs flow again meanwhile.
 * - Gangs are served oldest first; a younger gang still starts at once if enough slots are free
 *   beyond the oldest's reservation (backfill).
 */

export type SlotState = 'idle' | 'single' | 'reserved' | 'gang';

export interface SlotView {
  workerId: string;
  slot: number;
  state: SlotState;
  /** The job the slot runs (single, gang) or is reserved for (reserved). */
  jobId: string | null;
  /** When the slot entered its state (for a reservation: when it began). */
  since: Date;
}

export interface WaitingGang {
  jobId: string;
  /** Ranks the job needs: trainingConfig.resources.workers. */
  workers: number;
  /** When the gang began waiting for workers (its starvation clock). */
  waitingSince: Date;
  /**
   * When the gang began reserving (null: it is not). While a gang reserves, no single job takes a
   * slot that frees up (the worker checks it), so the slot is there for the gang at the next pass.
   */
  reservingSince: Date | null;
}

export interface GangAdmissionSettings {
  reserveAfterMs: number;
  reservationTimeoutMs: number;
}

export interface SlotRef {
  workerId: string;
  slot: number;
}

export type GangAction =
  /** Start the gang: `slots[r]` runs rank r. */
  | { kind: 'admit'; jobId: string; slots: SlotRef[] }
  /** The gang reserves (from now, if it did not already): hold these idle slots (possibly none yet) for it. */
  | { kind: 'reserve'; jobId: string; slots: SlotRef[] }
  /** Give the gang's reserved slots back; `restartWait` restarts its clock (after a timeout). */
  | { kind: 'release'; jobId: string; restartWait: boolean }
  /** Why the gang is still waiting, in words for the user. */
  | { kind: 'note'; jobId: string; note: string };

const bySlot = (a: SlotView, b: SlotView) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : a.slot - b.slot);
const ref = (s: SlotView): SlotRef => ({ workerId: s.workerId, slot: s.slot });

/**
 * Decides one scheduling pass. `gangs` must be in service order (oldest first); `slots` are the
 * live slots only (fresh heartbeat). Ranks are laid out worker by worker, so ranks that share a
 * machine are ring neighbours.
 */
export function planGangAdmission(now: Date, gangs: WaitingGang[], slots: SlotView[], settings: GangAdmissionSettings): GangAction[] {
  const actions: GangAction[] = [];
  let free = slots.filter((s) => s.state === 'idle').sort(bySlot);
  const reserved = new Map<string, SlotView[]>();
  for (const s of slots.filter((x) => x.state === 'reserved')) {
    const list = reserved.get(s.jobId!) ?? [];
    list.push(s);
    reserved.set(s.jobId!, list);
  }
  const waiting = new Set(gangs.map((g) => g.jobId));
  // Reservations for jobs that no longer wait (paused, stopped, deleted) go back at once.
  for (const jobId of reserved.keys()) if (!waiting.has(jobId)) actions.push({ kind: 'release', jobId, restartWait: false });

  const live = slots.length;
  let reserver: string | undefined;
  for (const gang of gangs) {
    const mine = (reserved.get(gang.jobId) ?? []).sort(bySlot);
    if (mine.length + free.length >= gang.workers) {
      const taken = [...mine, ...free.slice(0, gang.workers - mine.length)].sort(bySlot);
      free = free.filter((s) => !taken.includes(s));
      actions.push({ kind: 'admit', jobId: gang.jobId, slots: taken.map(ref) });
      continue;
    }
    const waitedMs = now.getTime() - gang.waitingSince.getTime();
    if (live < gang.workers) {
      if (mine.length || gang.reservingSince) actions.push({ kind: 'release', jobId: gang.jobId, restartWait: false });
      actions.push({ kind: 'note', jobId: gang.jobId, note: `waiting for ${gang.workers} workers: only ${live} worker slot${live === 1 ? ' is' : 's are'} running (start more gpu-workers, or lower trainingConfig.resources.workers)` });
      continue;
    }
    if (reserver === undefined && waitedMs >= settings.reserveAfterMs) {
      reserver = gang.jobId;
      if (gang.reservingSince && now.getTime() - gang.reservingSince.getTime() >= settings.reservationTimeoutMs) {
        actions.push({ kind: 'release', jobId: gang.jobId, restartWait: true });
        actions.push({
          kind: 'note',
          jobId: gang.jobId,
          note: `waiting for ${gang.workers} workers: held ${mine.length} for ${Math.round(settings.reservationTimeoutMs / 1000)} s without getting the rest, released them for other jobs and will try again`,
        });
        continue;
      }
      actions.push({ kind: 'reserve', jobId: gang.jobId, slots: free.map(ref) });
      actions.push({ kind: 'note', jobId: gang.jobId, note: `waiting for ${gang.workers} workers: ${mine.length + free.length} held for this job, the rest are busy` });
      free = [];
      continue;
    }
    if (mine.length || gang.reservingSince) actions.push({ kind: 'release', jobId: gang.jobId, restartWait: false });
    actions.push({ kind: 'note', jobId: gang.jobId, note: `waiting for ${gang.workers} workers: ${free.length + mine.length} of ${live} free` });
  }
  return actions;
}
