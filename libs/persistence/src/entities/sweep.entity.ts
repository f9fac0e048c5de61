import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { CreateSweep, SweepStatus, SweepTrialState } from '@medfusion/contracts';

/** A hyper-parameter sweep: its configuration as validated at the REST edge, and where it stands. */
@Entity({ name: 'sweeps' })
export class SweepEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  /** The create-sweep body with its defaults filled in (search space, objectives, sampler, ...). */
  @Column({ type: 'jsonb' }) config!: CreateSweep;
  @Column({ type: 'varchar', length: 20 }) status!: SweepStatus;
  /** Trials per state, refreshed by the driver on each pass. */
  @Column({ name: 'trial_counts', type: 'jsonb', default: () => "'{}'::jsonb" }) trialCounts!: Partial<Record<SweepTrialState, number>>;
  @Column({ name: 'best_trial_id', type: 'uuid', nullable: true }) bestTrialId!: string | null;
  /** Why the sweep ended: max_trials, max_duration, grid_exhausted, stopped, or an error. */
  @Column({ name: 'finish_reason', type: 'varchar', length: 40, nullable: true }) finishReason!: string | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column({ type: 'varchar', length: 200 }) owner!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz' }) startedAt!: Date;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}
