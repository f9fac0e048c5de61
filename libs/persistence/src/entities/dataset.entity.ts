import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { DatasetStatistics } from '@medfusion/contracts';

@Entity({ name: 'datasets' })
export class DatasetEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ name: 'data_path', type: 'text' }) dataPath!: string;
  @Column({ name: 'num_samples', type: 'integer' }) numSamples!: number;
  @Column({ name: 'num_classes', type: 'integer' }) numClasses!: number;
  @Column({ name: 'train_samples', type: 'integer', default: 0 }) trainSamples!: number;
  @Column({ name: 'val_samples', type: 'integer', default: 0 }) valSamples!: number;
  @Column({ name: 'test_samples', type: 'integer', default: 0 }) testSamples!: number;
  @Column({ name: 'class_distribution', type: 'jsonb', nullable: true }) classDistribution!: Record<string, number> | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'created_by', type: 'varchar', length: 200 }) createdBy!: string;
  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" }) tags!: string[];
  /** Computed when an uploaded archive was validated; null for datasets registered by path. */
  @Column({ type: 'jsonb', nullable: true }) statistics!: DatasetStatistics | null;
}
