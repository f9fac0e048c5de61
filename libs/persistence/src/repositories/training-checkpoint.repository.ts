import type { DataSource, Repository } from 'typeorm';
import { TrainingCheckpointEntity } from '../entities/training-checkpoint.entity.js';

export interface NewCheckpoint {
  jobId: string;
  epoch: number;
  step: number;
  metrics: Record<string, number>;
  checkpointPath: string;
  fileSize: number;
  /** Null for checkpoints that are not candidates for "best" (taken mid-epoch on pause/stop). */
  monitored: { metric: string; mode: 'min' | 'max' } | null;
}

export class TrainingCheckpointRepository {
  private readonly repo: Repository<TrainingCheckpointEntity>;

  constructor(private readonly ds: DataSource) {
    this.repo = ds.getRepository(TrainingCheckpointEntity);
  }

  /** The checkpoint a job resumes from: the furthest along. */
  latest(jobId: string): Promise<TrainingCheckpointEntity | null> {
    return this.repo.findOne({ where: { jobId }, order: { epoch: 'DESC', step: 'DESC', createdAt: 'DESC' } });
  }

  byId(id: string): Promise<TrainingCheckpointEntity | null> {
    return this.repo.findOneBy({ id });
  }

  list(jobId: string): Promise<TrainingCheckpointEntity[]> {
    return this.repo.find({ where: { jobId }, order: { epoch: 'ASC', step: 'ASC', createdAt: 'ASC' } });
  }

  /**
   * Inserts the row and, if its monitored metric beats the best so far, makes it the best. Adding
   * the same file twice returns the first row: a worker repeats the call when its connection died
   * and it cannot know whether the first one committed.
   */
  async add(c: NewCheckpoint): Promise<TrainingCheckpointEntity> {
    return this.ds.transaction(async (tx) => {
      const repo = tx.getRepository(TrainingCheckpointEntity);
      const existing = await repo.findOneBy({ jobId: c.jobId, checkpointPath: c.checkpointPath });
      if (existing) return existing;
      let isBest = false;
      const value = c.monitored ? c.metrics[c.monitored.metric] : undefined;
      if (c.monitored && value !== undefined && Number.isFinite(value)) {
        const best = await repo.findOneBy({ jobId: c.jobId, isBest: true });
        const bestValue = best?.metrics[c.monitored.metric];
        isBest = bestValue === undefined || (c.monitored.mode === 'min' ? value < bestValue : value > bestValue);
        if (isBest && best) await repo.update({ id: best.id }, { isBest: false });
      }
      const { monitored: _m, ...row } = c;
      return repo.save(repo.create({ ...row, isBest }));
    });
  }

  /** Deletes all but the newest `keepLast` and the best; returns the deleted rows' paths. */
  async prune(jobId: string, keepLast: number): Promise<string[]> {
    const all = await this.list(jobId);
    const doomed = all.slice(0, Math.max(0, all.length - keepLast)).filter((c) => !c.isBest);
    if (doomed.length) await this.repo.delete(doomed.map((c) => c.id));
    return doomed.map((c) => c.checkpointPath);
  }
}
