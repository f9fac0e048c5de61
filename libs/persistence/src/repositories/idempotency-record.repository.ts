import type { DataSource } from 'typeorm';
import { IdempotencyRecordEntity } from '../entities/idempotency-record.entity.js';

/** Forgets Idempotency-Keys older than the TTL; the scheduler calls it periodically. */
export async function purgeExpiredIdempotencyKeys(ds: DataSource, ttlHours: number): Promise<number> {
  const result = await ds
    .createQueryBuilder()
    .delete()
    .from(IdempotencyRecordEntity)
    .where('created_at < now() - make_interval(hours => :ttlHours)', { ttlHours })
    .execute();
  return result.affected ?? 0;
}
