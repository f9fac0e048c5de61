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

/**
 * SQLSTATE classes and codes that mean "the connection or server went away, try again": 08 connection
 * exceptions, 57P01-57P03 (terminated by an administrator, a crash, not accepting connections yet:
 * failover, pooler restart), 53300 too_many_connections, and 40001/40P01 (serialization failure,
 * deadlock: the statement was rolled back and can be repeated).
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);
/** Node socket errors of a dropped or refused connection. */
const TRANSIENT_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** pg and pg-pool report a lost connection with these messages and no code. */
const TRANSIENT_MESSAGES = [
  /Connection terminated/i,
  /connection error and is not queryable/i,
  /timeout exceeded when trying to connect/i,
  /Client was closed and is not queryable/i,
  // TypeORM releases a transaction's query runner when its connection errors between two
  // statements; the transaction's next statement then fails with this (the server rolled it back).
  /Query runner already released/i,
  /provided by a query runner was already released/i,
];

/**
 * True when a database call failed because the connection was lost or the server was briefly
 * unavailable, not because of the statement: repeating it on a fresh connection can succeed. Reads
 * through TypeORM's QueryFailedError (driverError) and an error's cause.
 */
export function isTransientDbError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { code } = pgErrorFields(e);
    if (code && (TRANSIENT_SQLSTATES.has(code) || code.startsWith('08') || TRANSIENT_ERRNOS.has(code))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && TRANSIENT_MESSAGES.some((m) => m.test(message))) return true;
    const next = (e as { driverError?: unknown; cause?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
    if (next === e) break;
    e = next;
  }
  return false;
}
