import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { WorkflowExecutionStatus } from '@medfusion/contracts';

@Entity({ name: 'workflow_executions' })
export class WorkflowExecutionEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'workflow_id', type: 'uuid' }) workflowId!: string;
  @Column({ type: 'varchar', length: 20 }) status!: WorkflowExecutionStatus;
  @Column({ type: 'jsonb', nullable: true }) result!: Record<string, unknown> | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt!: Date | null;
  /** Seconds from start to completion. */
  @Column({ type: 'double precision', nullable: true }) duration!: number | null;
}
