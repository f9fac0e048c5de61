import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from './column-transformers.js';

@Entity({ name: 'models' })
export class ModelEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'varchar', length: 100 }) backbone!: string;
  @Column({ name: 'num_classes', type: 'integer' }) numClasses!: number;
  @Column({ name: 'input_shape', type: 'jsonb' }) inputShape!: Record<string, unknown>;
  @Column({ type: 'double precision', nullable: true }) accuracy!: number | null;
  @Column({ type: 'double precision', nullable: true }) loss!: number | null;
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" }) metrics!: Record<string, unknown>;
  @Column({ name: 'model_path', type: 'text' }) modelPath!: string;
  @Column({ name: 'file_size', type: 'bigint', transformer: bigintAsNumber, nullable: true }) fileSize!: number | null;
  @Column({ type: 'varchar', length: 50 }) format!: string;
  @Column({ name: 'training_job_id', type: 'uuid', nullable: true }) trainingJobId!: string | null;
  @Column({ name: 'trained_epochs', type: 'integer', default: 0 }) trainedEpochs!: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'created_by', type: 'varchar', length: 200 }) createdBy!: string;
  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" }) tags!: string[];
}
