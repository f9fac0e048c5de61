import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A POST remembered under its Idempotency-Key, per owner, with the response it produced. */
@Entity({ name: 'idempotency_keys' })
export class IdempotencyRecordEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 }) owner!: string;
  @PrimaryColumn({ type: 'varchar', length: 255 }) key!: string;
  @Column({ type: 'varchar', length: 10 }) method!: string;
  @Column({ type: 'text' }) path!: string;
  /** SHA-256 of the request body, so a key reused for a different request is refused. */
  @Column({ name: 'request_hash', type: 'char', length: 64 }) requestHash!: string;
  @Column({ type: 'varchar', length: 20 }) state!: 'in_progress' | 'done';
  @Column({ name: 'response_status', type: 'integer', nullable: true }) responseStatus!: number | null;
  @Column({ name: 'response_body', type: 'jsonb', nullable: true }) responseBody!: unknown;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
