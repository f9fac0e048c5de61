import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { SweepTrialState, TrialParams } from '@medfusion/contracts';

/** One pruner answer, kept so a sweep shows what the pruner decided and when. */
export interface PrunerDecision {
  step: number;
  prune: boolean;
}

/**
 * One trial of a sweep. `number` is unique per sweep (a restarted driver cannot create a trial
 * twice); the trial's training job is created in the same transaction as the row leaves `waiting`.
 */
@Entity({ name: 'trials' })
export class TrialEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'sweep_id', type: 'uuid' }) sweepId!: string;
  @Column({ type: 'integer' }) number!: number;
  @Column({ type: 'varchar', length: 20 }) state!: SweepTrialState;
  /** Enqueued trials: the parameters the user chose (the rest are sampled when it starts). */
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" }) params!: TrialParams;
  /** First objective per epoch: { "<epoch>": value }. */
  @Column({ name: 'intermediate_values', type: 'jsonb', default: () => "'{}'::jsonb" }) intermediateValues!: Record<string, number>;
  /** One per objective, for complete trials. */
  @Column({ type: 'jsonb', nullable: true }) values!: number[] | null;
  @Column({ name: 'sampler_attrs', type: 'jsonb', default: () => "'{}'::jsonb" }) samplerAttrs!: Record<string, number>;
  @Column({ name: 'pruner_decisions', type: 'jsonb', default: () => "'[]'::jsonb" }) prunerDecisions!: PrunerDecision[];
  @Column({ name: 'training_job_id', type: 'uuid', nullable: true }) trainingJobId!: string | null;
  /** Whether a user enqueued it (Optuna's enqueue_trial) rather than the sampler proposing it. */
  @Column({ type: 'boolean', default: false }) enqueued!: boolean;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  /** Seconds from start to the final state. */
  @Column({ type: 'double precision', nullable: true }) duration!: number | null;
}
