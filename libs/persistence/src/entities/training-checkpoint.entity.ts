import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from './column-transformers.js';

@Entity({ name: 'training_checkpoints' })
export class TrainingCheckpointEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'job_id', type: 'uuid' }) jobId!: string;
  @Column({ type: 'integer' }) epoch!: number;
  @Column({ type: 'integer' }) step!: number;
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" }) metrics!: Record<string, number>;
  @Column({ name: 'checkpoint_path', type: 'text' }) checkpointPath!: string;
  @Column({ name: 'file_size', type: 'bigint', transformer: bigintAsNumber }) fileSize!: number;
  @Column({ name: 'is_best', type: 'boolean', default: false }) isBest!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
