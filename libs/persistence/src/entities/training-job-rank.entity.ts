import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export const RANK_STATUSES = ['assigned', 'listening', 'training', 'finished', 'failed'] as const;
export type RankStatus = (typeof RANK_STATUSES)[number];

/**
 * One rank of a multi-worker job's current gang: where it runs and listens, and how it is doing.
 * The scheduler writes the rows when it admits the gang; each rank fills in its port, and rank 0
 * its throughput. `token` is the job's collective secret and never leaves the backend.
 */
@Entity({ name: 'training_job_ranks' })
export class TrainingJobRankEntity {
  @PrimaryColumn({ name: 'job_id', type: 'uuid' }) jobId!: string;
  @PrimaryColumn({ type: 'integer' }) rank!: number;
  /** training_jobs.attempts when this gang was admitted: ranks of an older gang are fenced out. */
  @Column({ type: 'integer' }) attempt!: number;
  @Column({ name: 'world_size', type: 'integer' }) worldSize!: number;
  @Column({ name: 'worker_id', type: 'varchar', length: 200 }) workerId!: string;
  @Column({ type: 'integer' }) slot!: number;
  @Column({ type: 'varchar', length: 255 }) host!: string;
  @Column({ type: 'integer', nullable: true }) port!: number | null;
  @Column({ type: 'varchar', length: 128, select: false }) token!: string;
  @Column({ name: 'resume_checkpoint_id', type: 'uuid', nullable: true }) resumeCheckpointId!: string | null;
  @Column({ type: 'varchar', length: 20 }) status!: RankStatus;
  @Column({ name: 'samples_per_second', type: 'double precision', nullable: true }) samplesPerSecond!: number | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
