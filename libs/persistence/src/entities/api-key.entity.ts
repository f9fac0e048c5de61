import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ApiKeyRole } from '@medfusion/contracts';

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  /** SHA-256 of the whole key (keys are 256-bit random, so a slow hash adds nothing). */
  @Column({ name: 'key_hash', type: 'char', length: 64 }) keyHash!: string;
  /** First characters of the key, shown so users can tell keys apart. */
  @Column({ name: 'key_prefix', type: 'varchar', length: 16 }) keyPrefix!: string;
  @Column({ type: 'varchar', length: 20 }) role!: ApiKeyRole;
  @Column({ type: 'varchar', length: 200 }) owner!: string;
  @Column({ name: 'created_by', type: 'varchar', length: 200 }) createdBy!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
}
