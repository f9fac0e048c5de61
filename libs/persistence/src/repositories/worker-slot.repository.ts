import type { DataSource } from 'typeorm';
import type { SlotState } from '@medfusion/domain';

/** What a heartbeat tells a worker about one of its slots. */
export interface SlotAssignment {
  slot: number;
  state: SlotState;
  jobId: string | null;
  rank: number | null;
  attempt: number | null;
}

interface SlotRow {
  slot: number;
  state: SlotState;
  job_id: string | null;
  rank: number | null;
  attempt: number | null;
}

const toAssignment = (r: SlotRow): SlotAssignment => ({ slot: r.slot, state: r.state, jobId: r.job_id, rank: r.rank, attempt: r.attempt });

/**
 * A gpu-worker's side of the slot registry (`worker_slots`): one row per GPU slot, kept alive by a
 * heartbeat. The worker takes a slot before it trains a single-worker job; the scheduler assigns
 * idle slots to gangs. Both go through conditional updates on the same rows, so a slot is never
 * given to two jobs.
 */
export class WorkerSlotRepository {
  constructor(private readonly ds: DataSource) {}

  /** Registers `slots` idle slots for a worker that is starting (a restarted worker runs nothing). */
  async register(workerId: string, host: string, slots: number): Promise<void> {
    await this.ds.query(
      `INSERT INTO worker_slots (worker_id, slot, host, state)
       SELECT $1, s, $2, 'idle' FROM generate_series(0, $3::int - 1) AS s
       ON CONFLICT (worker_id, slot) DO UPDATE
         SET host = EXCLUDED.host, state = 'idle', job_id = NULL, rank = NULL, attempt = NULL, since = now(), heartbeat_at = now()`,
      [workerId, host, slots],
    );
    await this.ds.query(`DELETE FROM worker_slots WHERE worker_id = $1 AND slot >= $2`, [workerId, slots]);
  }

  /**
   * Proves the worker alive and returns its slots as the scheduler left them. A slot the scheduler
   * removed (the worker missed heartbeats) comes back idle.
   */
  async heartbeat(workerId: string, host: string, slots: number): Promise<SlotAssignment[]> {
    const rows = (await this.ds.query(
      `INSERT INTO worker_slots (worker_id, slot, host, state)
       SELECT $1, s, $2, 'idle' FROM generate_series(0, $3::int - 1) AS s
       ON CONFLICT (worker_id, slot) DO UPDATE SET heartbeat_at = now()
       RETURNING slot, state, job_id, rank, attempt`,
      [workerId, host, slots],
    )) as SlotRow[];
    return rows.map(toAssignment).sort((a, b) => a.slot - b.slot);
  }

  /**
   * Takes an idle slot for a single-worker job; null when every slot is busy or held for a gang, or
   * while a gang is reserving (a slot that just freed up is the gang's, the scheduler holds it next).
   */
  async takeForSingle(workerId: string, jobId: string): Promise<number | null> {
    const [rows] = (await this.ds.query(
      `UPDATE worker_slots SET state = 'single', job_id = $2, since = now()
        WHERE (worker_id, slot) = (SELECT worker_id, slot FROM worker_slots WHERE worker_id = $1 AND state = 'idle'
                                    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
          AND NOT EXISTS (SELECT 1 FROM training_jobs WHERE status = 'queued' AND gang_reserving_since IS NOT NULL)
        RETURNING slot`,
      [workerId, jobId],
    )) as [Array<{ slot: number }>, number];
    return rows[0]?.slot ?? null;
  }

  /** Frees a slot the worker used for `jobId` (a single job or a gang rank); no-op if it moved on. */
  async free(workerId: string, slot: number, jobId: string): Promise<void> {
    await this.ds.query(
      `UPDATE worker_slots SET state = 'idle', job_id = NULL, rank = NULL, attempt = NULL, since = now()
        WHERE worker_id = $1 AND slot = $2 AND job_id = $3 AND state IN ('single', 'gang')`,
      [workerId, slot, jobId],
    );
  }

  /**
   * Marks slot `slot` as running single job `jobId` again when the registry shows it idle: the
   * worker still trains the job, but its slots were removed while it could not heartbeat (a
   * database outage longer than the TTL) and came back idle. Without it a gang could be placed on a
   * busy slot. Returns whether the row now says so.
   */
  async hold(workerId: string, slot: number, jobId: string): Promise<boolean> {
    const [rows] = (await this.ds.query(
      `UPDATE worker_slots SET state = 'single', job_id = $3, since = now()
        WHERE worker_id = $1 AND slot = $2 AND (state = 'idle' OR (state = 'single' AND job_id = $3))
        RETURNING slot`,
      [workerId, slot, jobId],
    )) as [Array<{ slot: number }>, number];
    return rows.length > 0;
  }

  /**
   * The worker is shutting down: its free and reserved slots leave the registry at once, so no new
   * gang is placed on them; the slots still running something stay until `retire`.
   */
  async drain(workerId: string): Promise<void> {
    await this.ds.query(`DELETE FROM worker_slots WHERE worker_id = $1 AND state IN ('idle', 'reserved')`, [workerId]);
  }

  /** Keeps a draining worker's remaining slots alive without bringing back the ones it removed. */
  async touch(workerId: string): Promise<void> {
    await this.ds.query(`UPDATE worker_slots SET heartbeat_at = now() WHERE worker_id = $1`, [workerId]);
  }

  /** A draining worker's slot finished its job: it leaves the registry instead of becoming idle. */
  async retire(workerId: string, slot: number, jobId: string): Promise<void> {
    await this.ds.query(`DELETE FROM worker_slots WHERE worker_id = $1 AND slot = $2 AND job_id = $3`, [workerId, slot, jobId]);
  }

  /** The worker is gone: its slots leave the registry. */
  async unregister(workerId: string): Promise<void> {
    await this.ds.query(`DELETE FROM worker_slots WHERE worker_id = $1`, [workerId]);
  }
}
