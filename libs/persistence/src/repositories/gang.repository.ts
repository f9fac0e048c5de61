import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { TrainingRank } from '@medfusion/contracts';
import type { SlotRef, SlotView, WaitingGang } from '@medfusion/domain';
import { TrainingJobRankEntity, type RankStatus } from '../entities/training-job-rank.entity.js';

/** A rank's view of its assignment: everything it needs to join its gang's collective group. */
export interface RankAssignment {
  jobId: string;
  rank: number;
  attempt: number;
  worldSize: number;
  workerId: string;
  slot: number;
  host: string;
  token: string;
  resumeCheckpointId: string | null;
}

export type AdmitOutcome = { admitted: true; attempt: number } | { admitted: false; reason: 'slots-taken' | 'not-queued' };

/** A running gang job whose rank has no live slot any more (its worker died or gave it up). */
export interface BrokenGang {
  jobId: string;
  attempt: number;
  rank: number;
  workerId: string;
  rankStatus: RankStatus;
  rankError: string | null;
}

export type GangEndOutcome = 'queued' | 'failed' | 'paused' | 'stopped' | 'not-running';

/** SQL predicate of a job that needs a gang: more than one worker. */
const GANG_JOB = `COALESCE((training_config->'resources'->>'workers')::int, 1) > 1`;

/**
 * Gang scheduling in Postgres: the scheduler's reads and its all-or-nothing admission, and the
 * ranks' rendezvous record (`training_job_ranks`). Every write is a short transaction conditional
 * on the job's attempt, so a gang that was replaced cannot change its successor's rows.
 */
export class GangRepository {
  constructor(private readonly ds: DataSource) {}

  /** Slots that heartbeated within `ttlMs`. */
  async liveSlots(ttlMs: number): Promise<SlotView[]> {
    const rows = (await this.ds.query(
      `SELECT worker_id, slot, state, job_id, since FROM worker_slots WHERE heartbeat_at >= now() - make_interval(secs => $1::double precision / 1000)`,
      [ttlMs],
    )) as Array<{ worker_id: string; slot: number; state: SlotView['state']; job_id: string | null; since: Date }>;
    return rows.map((r) => ({ workerId: r.worker_id, slot: r.slot, state: r.state, jobId: r.job_id, since: r.since }));
  }

  /** Removes slots whose worker stopped heartbeating; returns them (a gang slot among them breaks its gang). */
  async expireSlots(ttlMs: number): Promise<Array<{ workerId: string; slot: number; state: string; jobId: string | null }>> {
    const [rows] = (await this.ds.query(
      `DELETE FROM worker_slots WHERE heartbeat_at < now() - make_interval(secs => $1::double precision / 1000) RETURNING worker_id, slot, state, job_id`,
      [ttlMs],
    )) as [Array<{ worker_id: string; slot: number; state: string; job_id: string | null }>, number];
    return rows.map((r) => ({ workerId: r.worker_id, slot: r.slot, state: r.state, jobId: r.job_id }));
  }

  /**
   * Queued multi-worker jobs, oldest first. Starts the wait clock of those that just began waiting,
   * and clears both clocks of jobs that stopped waiting (paused, stopped: a resumed job waits anew).
   */
  async waitingGangs(): Promise<WaitingGang[]> {
    await this.ds.query(
      `UPDATE training_jobs SET gang_waiting_since = NULL, gang_reserving_since = NULL
        WHERE status NOT IN ('queued', 'running') AND (gang_waiting_since IS NOT NULL OR gang_reserving_since IS NOT NULL)`,
    );
    await this.ds.query(`UPDATE training_jobs SET gang_waiting_since = now() WHERE status = 'queued' AND gang_waiting_since IS NULL AND ${GANG_JOB}`);
    const rows = (await this.ds.query(
      `SELECT id, (training_config->'resources'->>'workers')::int AS workers, gang_waiting_since, gang_reserving_since FROM training_jobs
        WHERE status = 'queued' AND ${GANG_JOB} ORDER BY created_at, id`,
    )) as Array<{ id: string; workers: number; gang_waiting_since: Date; gang_reserving_since: Date | null }>;
    return rows.map((r) => ({ jobId: r.id, workers: r.workers, waitingSince: r.gang_waiting_since, reservingSince: r.gang_reserving_since }));
  }

  /**
   * Starts the gang on `slots` (slots[r] runs rank r) in one transaction: every slot must still be
   * idle or reserved for this job, and the job still queued; otherwise nothing changes. The job
   * becomes running under rank 0's worker with the next attempt number; each rank gets a row with
   * the job's new collective token and the checkpoint every rank resumes from.
   */
  async admit(jobId: string, slots: SlotRef[], ttlMs: number): Promise<AdmitOutcome> {
    return this.ds.transaction(async (tx) => {
      const locked = (await tx.query(
        `SELECT worker_id, slot, host FROM worker_slots
          WHERE (worker_id, slot) IN (SELECT * FROM unnest($1::varchar[], $2::int[]))
            AND (state = 'idle' OR (state = 'reserved' AND job_id = $3))
            AND heartbeat_at >= now() - make_interval(secs => $4::double precision / 1000)
          FOR UPDATE`,
        [slots.map((s) => s.workerId), slots.map((s) => s.slot), jobId, ttlMs],
      )) as Array<{ worker_id: string; slot: number; host: string }>;
      if (locked.length !== slots.length) {
        // Roll back: the slots we did lock stay as they were.
        throw new AdmissionRace('slots-taken');
      }
      const hostOf = new Map(locked.map((l) => [`${l.worker_id}/${l.slot}`, l.host]));
      const [jobRows] = (await tx.query(
        `UPDATE training_jobs SET status = 'running', worker_id = $2, attempts = attempts + 1, started_at = COALESCE(started_at, now()),
                error = NULL, gang_waiting_since = NULL, gang_reserving_since = NULL, scheduling_note = NULL, updated_at = now()
          WHERE id = $1 AND status = 'queued' RETURNING attempts`,
        [jobId, slots[0]!.workerId],
      )) as [Array<{ attempts: number }>, number];
      if (!jobRows.length) throw new AdmissionRace('not-queued');
      const attempt = jobRows[0]!.attempts;
      const [resume] = (await tx.query(
        `SELECT id FROM training_checkpoints WHERE job_id = $1 ORDER BY epoch DESC, step DESC, created_at DESC LIMIT 1`,
        [jobId],
      )) as Array<{ id: string }>;
      const token = randomBytes(32).toString('hex');
      await tx.query(`DELETE FROM training_job_ranks WHERE job_id = $1`, [jobId]);
      for (const [rank, s] of slots.entries()) {
        await tx.query(
          `INSERT INTO training_job_ranks (job_id, rank, attempt, world_size, worker_id, slot, host, token, resume_checkpoint_id, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'assigned')`,
          [jobId, rank, attempt, slots.length, s.workerId, s.slot, hostOf.get(`${s.workerId}/${s.slot}`), token, resume?.id ?? null],
        );
        await tx.query(`UPDATE worker_slots SET state = 'gang', job_id = $3, rank = $4, attempt = $5, since = now() WHERE worker_id = $1 AND slot = $2`, [
          s.workerId,
          s.slot,
          jobId,
          rank,
          attempt,
        ]);
      }
      return { admitted: true as const, attempt };
    }).catch((err: unknown) => {
      if (err instanceof AdmissionRace) return { admitted: false as const, reason: err.reason };
      throw err;
    });
  }

  /**
   * Marks the gang as reserving (single jobs take no freed slot from now on) and holds these idle
   * slots for it; returns how many it got (others may have been taken meanwhile).
   */
  async reserve(jobId: string, slots: SlotRef[]): Promise<number> {
    await this.ds.query(`UPDATE training_jobs SET gang_reserving_since = COALESCE(gang_reserving_since, now()) WHERE id = $1 AND status = 'queued'`, [jobId]);
    if (!slots.length) return 0;
    const [, affected] = (await this.ds.query(
      `UPDATE worker_slots SET state = 'reserved', job_id = $3, since = now()
        WHERE (worker_id, slot) IN (SELECT * FROM unnest($1::varchar[], $2::int[])) AND state = 'idle'`,
      [slots.map((s) => s.workerId), slots.map((s) => s.slot), jobId],
    )) as [unknown, number];
    return affected;
  }

  /** Gives a gang's reserved slots back; with `restartWait` its wait clock starts over. */
  async release(jobId: string, restartWait: boolean): Promise<void> {
    await this.ds.query(`UPDATE worker_slots SET state = 'idle', job_id = NULL, since = now() WHERE state = 'reserved' AND job_id = $1`, [jobId]);
    await this.ds.query(`UPDATE training_jobs SET gang_reserving_since = NULL${restartWait ? ', gang_waiting_since = now()' : ''} WHERE id = $1`, [jobId]);
  }

  async note(jobId: string, note: string): Promise<void> {
    await this.ds.query(`UPDATE training_jobs SET scheduling_note = $2 WHERE id = $1 AND status = 'queued' AND scheduling_note IS DISTINCT FROM $2`, [jobId, note]);
  }

  /**
   * Running gang jobs with a rank that has not finished and whose slot no longer runs it: the
   * worker died (its slot expired), restarted, or the rank failed and gave its slot up.
   */
  async brokenGangs(): Promise<BrokenGang[]> {
    const rows = (await this.ds.query(
      `SELECT r.job_id, r.attempt, r.rank, r.worker_id, r.status, r.error FROM training_job_ranks r
         JOIN training_jobs j ON j.id = r.job_id AND j.attempts = r.attempt AND j.status = 'running'
        WHERE r.status <> 'finished'
          AND NOT EXISTS (SELECT 1 FROM worker_slots s WHERE s.worker_id = r.worker_id AND s.slot = r.slot
                            AND s.state = 'gang' AND s.job_id = r.job_id AND s.attempt = r.attempt)
        ORDER BY r.job_id, r.rank`,
    )) as Array<{ job_id: string; attempt: number; rank: number; worker_id: string; status: RankStatus; error: string | null }>;
    return rows.map((r) => ({ jobId: r.job_id, attempt: r.attempt, rank: r.rank, workerId: r.worker_id, rankStatus: r.status, rankError: r.error }));
  }

  /**
   * Ends the gang `attempt` of a running job after a rank was lost: the job waits for a new gang
   * (and resumes from its last checkpoint), unless it has been restarted `maxRestarts` times, in
   * which case it fails with `reason`. A pause or stop the user asked for is honoured instead.
   * Idempotent: only the first caller for an attempt changes the job.
   */
  async endBrokenGang(jobId: string, attempt: number, reason: string, maxRestarts: number): Promise<GangEndOutcome> {
    const [rows] = (await this.ds.query(
      `UPDATE training_jobs SET
          status = CASE WHEN desired_state = 'pause' THEN 'paused' WHEN desired_state = 'stop' THEN 'stopped'
                        WHEN restarts >= $4 THEN 'failed' ELSE 'queued' END,
          restarts = CASE WHEN desired_state IS NULL AND restarts < $4 THEN restarts + 1 ELSE restarts END,
          error = CASE WHEN desired_state IS NULL AND restarts >= $4 THEN $3 || ' (gang restarted ' || restarts || ' times; giving up)' ELSE NULL END,
          scheduling_note = CASE WHEN desired_state IS NULL AND restarts < $4 THEN 'gang restarted after: ' || $3 ELSE scheduling_note END,
          completed_at = CASE WHEN desired_state = 'stop' OR (desired_state IS NULL AND restarts >= $4) THEN now() ELSE completed_at END,
          duration = CASE WHEN desired_state = 'stop' OR (desired_state IS NULL AND restarts >= $4) THEN EXTRACT(EPOCH FROM now() - started_at) ELSE duration END,
          desired_state = NULL, worker_id = NULL, gang_waiting_since = NULL, gang_reserving_since = NULL, updated_at = now()
        WHERE id = $1 AND attempts = $2 AND status = 'running'
        RETURNING status`,
      [jobId, attempt, reason, maxRestarts],
    )) as [Array<{ status: GangEndOutcome }>, number];
    return rows[0]?.status ?? 'not-running';
  }

  /** Fails a running gang job for a reason a restart would not fix (bad data, diverged replicas). */
  async failGang(jobId: string, attempt: number, message: string): Promise<boolean> {
    const [, affected] = (await this.ds.query(
      `UPDATE training_jobs SET status = 'failed', error = $3, desired_state = NULL, worker_id = NULL, completed_at = now(),
              duration = EXTRACT(EPOCH FROM now() - started_at), updated_at = now()
        WHERE id = $1 AND attempts = $2 AND status = 'running'`,
      [jobId, attempt, message],
    )) as [unknown, number];
    return affected > 0;
  }

  /** The rank's assignment, token included, or null once a newer gang replaced this one. */
  async assignment(jobId: string, rank: number, attempt: number): Promise<RankAssignment | null> {
    const row = await this.ds
      .getRepository(TrainingJobRankEntity)
      .createQueryBuilder('r')
      .addSelect('r.token')
      .where('r.job_id = :jobId AND r.rank = :rank AND r.attempt = :attempt', { jobId, rank, attempt })
      .getOne();
    if (!row) return null;
    const { jobId: id, worldSize, workerId, slot, host, token, resumeCheckpointId } = row;
    return { jobId: id, rank, attempt, worldSize, workerId, slot, host, token, resumeCheckpointId };
  }

  /** Records the port rank `rank` listens on (the rendezvous address peers connect to). */
  async setListening(jobId: string, rank: number, attempt: number, port: number): Promise<void> {
    await this.rankUpdate(jobId, rank, attempt, `port = $4, status = 'listening'`, [port]);
  }

  async setRankStatus(jobId: string, rank: number, attempt: number, status: RankStatus, error: string | null = null): Promise<void> {
    await this.rankUpdate(jobId, rank, attempt, `status = $4, error = $5`, [status, error]);
  }

  /** Rank 0 records every rank's training throughput of the last epoch. */
  async setThroughput(jobId: string, attempt: number, samplesPerSecond: number[]): Promise<void> {
    await this.ds.query(
      `UPDATE training_job_ranks r SET samples_per_second = v.sps, updated_at = now()
         FROM unnest($3::double precision[]) WITH ORDINALITY AS v(sps, i)
        WHERE r.job_id = $1 AND r.attempt = $2 AND r.rank = v.i - 1`,
      [jobId, attempt, samplesPerSecond],
    );
  }

  /**
   * Every rank's address once all ranks of the gang listen (index = rank), null while some do not;
   * 'replaced' when the gang is no longer the job's current one.
   */
  async peers(jobId: string, attempt: number): Promise<Array<{ host: string; port: number }> | null | 'replaced'> {
    const rows = (await this.ds.query(
      `SELECT r.rank, r.host, r.port, r.world_size, j.attempts AS current, j.status FROM training_job_ranks r JOIN training_jobs j ON j.id = r.job_id
        WHERE r.job_id = $1 AND r.attempt = $2 ORDER BY r.rank`,
      [jobId, attempt],
    )) as Array<{ rank: number; host: string; port: number | null; world_size: number; current: number; status: string }>;
    if (!rows.length || rows[0]!.current !== attempt || rows[0]!.status !== 'running') return 'replaced';
    if (rows.length !== rows[0]!.world_size || rows.some((r) => r.port === null)) return null;
    return rows.map((r) => ({ host: r.host, port: r.port! }));
  }

  /** The job's current (or last) gang, for REST and progress: no tokens. */
  async ranksOf(jobId: string): Promise<TrainingJobRankEntity[]> {
    return this.ds.getRepository(TrainingJobRankEntity).find({ where: { jobId }, order: { rank: 'ASC' } });
  }

  /** The gang as users see it (REST, Socket.IO). */
  async ranksView(jobId: string): Promise<TrainingRank[]> {
    return (await this.ranksOf(jobId)).map((r) => ({
      rank: r.rank,
      workerId: r.workerId,
      slot: r.slot,
      host: r.host,
      port: r.port,
      status: r.status,
      samplesPerSecond: r.samplesPerSecond,
      error: r.error,
    }));
  }

  private async rankUpdate(jobId: string, rank: number, attempt: number, set: string, params: unknown[]): Promise<void> {
    await this.ds.query(`UPDATE training_job_ranks SET ${set}, updated_at = now() WHERE job_id = $1 AND rank = $2 AND attempt = $3`, [jobId, rank, attempt, ...params]);
  }
}

class AdmissionRace extends Error {
  constructor(readonly reason: 'slots-taken' | 'not-queued') {
    super(`gang admission lost a race: ${reason}`);
  }
}

/** True when a job needs a gang of workers rather than one. */
export function isGangJob(job: { trainingConfig: { resources?: { workers?: number } } }): boolean {
  return (job.trainingConfig.resources?.workers ?? 1) > 1;
}
