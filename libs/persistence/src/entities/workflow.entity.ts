import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { WorkflowEdge, WorkflowNode } from '@medfusion/contracts';

@Entity({ name: 'workflows' })
export class WorkflowEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'jsonb' }) nodes!: WorkflowNode[];
  @Column({ type: 'jsonb' }) edges!: WorkflowEdge[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  @Column({ name: 'created_by', type: 'varchar', length: 200 }) createdBy!: string;
  @Column({ name: 'execution_count', type: 'integer', default: 0 }) executionCount!: number;
  @Column({ name: 'last_executed_at', type: 'timestamptz', nullable: true }) lastExecutedAt!: Date | null;
}
