/** Postgres error fields, on a pg error or on the driverError TypeORM wraps it in. */
function pgErrorFields(err: unknown): { code?: string; constraint?: string } {
  const e = err as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  return { code: e.code ?? e.driverError?.code, constraint: e.constraint ?? e.driverError?.constraint };
}

/** A unique_violation (23505) of the named constraint or unique index. */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = pgErrorFields(err);
  return e.code === '23505' && e.constraint === constraint;
}

/** duplicate_database (42P04). */
export function isDuplicateDatabaseError(err: unknown): boolean {
  return pgErrorFields(err).code === '42P04';
}
