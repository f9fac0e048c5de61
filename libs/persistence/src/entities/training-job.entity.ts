import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { DataConfig, ModelConfig, TrainingConfig, TrainingControlAction, TrainingJobStatus } from '@medfusion/contracts';

/** One epoch's record in `history`. */
export interface EpochRecord {
  epoch: number;
  metrics: Record<string, number>;
  learningRate?: number;
  samplesPerSecond?: number;
  durationSeconds?: number;
  /** Rows are true classes, columns predicted classes, on the validation split. */
  valConfusionMatrix?: number[][];
}

@Entity({ name: 'training_jobs' })
export class TrainingJobEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ name: 'model_config', type: 'jsonb' }) modelConfig!: ModelConfig;
  @Column({ name: 'data_config', type: 'jsonb' }) dataConfig!: DataConfig;
  @Column({ name: 'training_config', type: 'jsonb' }) trainingConfig!: TrainingConfig;
  @Column({ name: 'dataset_id', type: 'uuid', nullable: true }) datasetId!: string | null;
  @Column({ type: 'varchar', length: 20 }) status!: TrainingJobStatus;
  /** A control request not yet acted on by the worker running the job. */
  @Column({ name: 'desired_state', type: 'varchar', length: 20, nullable: true }) desiredState!: TrainingControlAction | null;
  /** 0..1 */
  @Column({ type: 'real', default: 0 }) progress!: number;
  @Column({ name: 'current_epoch', type: 'integer', default: 0 }) currentEpoch!: number;
  @Column({ name: 'total_epochs', type: 'integer' }) totalEpochs!: number;
  @Column({ name: 'current_metrics', type: 'jsonb', nullable: true }) currentMetrics!: Record<string, number> | null;
  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" }) history!: EpochRecord[];
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt!: Date | null;
  /** Seconds from first start to the final state. */
  @Column({ type: 'double precision', nullable: true }) duration!: number | null;
  @Column({ name: 'model_path', type: 'text', nullable: true }) modelPath!: string | null;
  @Column({ name: 'checkpoint_path', type: 'text', nullable: true }) checkpointPath!: string | null;
  @Column({ type: 'varchar', length: 200 }) owner!: string;
  /** Compute backend the worker trained with (e.g. tensorflow-gpu, cpu). */
  @Column({ type: 'varchar', length: 50, nullable: true }) backend!: string | null;
  /** Worker currently running the job; the row, not the queue, says who owns it. */
  @Column({ name: 'worker_id', type: 'varchar', length: 200, nullable: true }) workerId!: string | null;
  @Column({ type: 'integer', default: 0 }) attempts!: number;
  /** Multi-worker jobs: when the job began waiting for a gang of workers (null while it runs). */
  @Column({ name: 'gang_waiting_since', type: 'timestamptz', nullable: true }) gangWaitingSince!: Date | null;
  /** Multi-worker jobs: since when freed worker slots are held for this job (null: they are not). */
  @Column({ name: 'gang_reserving_since', type: 'timestamptz', nullable: true }) gangReservingSince!: Date | null;
  /** Why a queued multi-worker job is still waiting, or what happened to its last gang. */
  @Column({ name: 'scheduling_note', type: 'text', nullable: true }) schedulingNote!: string | null;
  /** How often a broken gang (a rank died or lost its peers) was started again from a checkpoint. */
  @Column({ type: 'integer', default: 0 }) restarts!: number;
}
