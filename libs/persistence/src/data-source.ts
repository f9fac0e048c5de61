import 'reflect-metadata';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities/index.js';
import { MIGRATIONS } from './migrations/index.js';
import { isDuplicateDatabaseError, isUniqueViolation } from './pg-errors.js';

/** How an app's connections present themselves and report losses. */
export interface DatabaseIdentity {
  /** Shown in pg_stat_activity (e.g. `medfusion-gpu-worker`), so operators can tell the apps' connections apart. */
  applicationName?: string;
  /**
   * Told about every error a pooled connection raises outside a query (the server terminated it,
   * the socket dropped). The pool replaces such connections and the query in flight fails on its
   * own; without a listener Node would crash the process. Defaults to a warning on stderr.
   */
  onConnectionError?: (err: Error) => void;
}

export interface DataSourceOptions extends DatabaseIdentity {
  url: string;
  /** Pool size per process; Postgres' default max_connections is 100 across all apps. */
  poolSize?: number;
  /** For tests only: production schemas change through migrations. */
  synchronize?: boolean;
}

/**
 * A pg Client that always has an 'error' listener. pg-pool removes its own listener while a client
 * is checked out, and a server that terminates a connection right after its handshake sends the
 * ReadyForQuery and the FATAL 57P01 in one packet: the pool hands the client out and the error is
 * emitted before TypeORM attaches its listener (a microtask later), which crashed gpu-workers and
 * the scheduler during connection churn ("Unhandled 'error' event ... on Client instance").
 */
function clientClass(onError: (err: Error) => void): typeof pg.Client {
  return class ListenedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      this.on('error', onError);
    }
  };
}

const warnConnectionError = (err: Error) => console.warn(`postgres connection lost (the pool replaces it): ${err.message}`);

export function createDataSource(opts: DataSourceOptions): DataSource {
  const onConnectionError = opts.onConnectionError ?? warnConnectionError;
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: opts.synchronize ?? false,
    poolSize: opts.poolSize ?? 10,
    applicationName: opts.applicationName,
    // The pool re-emits an idle client's error, which the client's own listener has already reported.
    poolErrorHandler: () => undefined,
    extra: { connectionTimeoutMillis: 5000, Client: clientClass(onConnectionError) },
  });
}

/**
 * Creates the database named in `url` if it does not exist, so a developer machine only needs a
 * running Postgres. Safe when several apps race: the losers of concurrent CREATE DATABASEs get
 * duplicate_database (42P04) or, when both passed the existence check at once, a unique violation
 * (23505) on pg_database's name index; both mean the database is there.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const dbName = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!dbName) throw new Error(`DATABASE_URL ${redactUrl(url)} names no database`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  // A connection terminated between two statements emits 'error' with no query to fail: the next
  // statement (or end) reports it; without a listener the process would crash.
  client.on('error', (err) => console.warn(`postgres admin connection lost while ensuring database ${dbName}: ${err.message}`));
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot reach Postgres at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (!rowCount) {
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`);
      } catch (err) {
        if (!isDuplicateDatabase(err)) throw err;
      }
    }
  } finally {
    await client.end();
  }
}

function isDuplicateDatabase(err: unknown): boolean {
  return isDuplicateDatabaseError(err) || isUniqueViolation(err, 'pg_database_datname_index');
}

const MIGRATION_LOCK_KEY = 0x6d66_6d67; // "mfmg": one advisory lock id for MedFusion migrations

/**
 * Runs pending migrations once even when several apps start together: a session-level advisory
 * lock serialises them, and each migration runs in its own transaction.
 */
export async function runMigrations(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const done = await ds.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}

/** Hides the password in a connection URL for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

export interface OpenDatabaseOptions extends DatabaseIdentity {
  url: string;
  migrate: boolean;
  poolSize?: number;
  onMigrated?: (applied: string[]) => void;
}

/**
 * What every app does at start: create the database if missing, connect (with an error that names
 * the server), and apply pending migrations when asked to.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<DataSource> {
  await ensureDatabase(opts.url);
  const ds = createDataSource({ url: opts.url, poolSize: opts.poolSize, applicationName: opts.applicationName, onConnectionError: opts.onConnectionError });
  try {
    await ds.initialize();
  } catch (err) {
    throw new Error(`cannot connect to Postgres at ${redactUrl(opts.url)}: ${(err as Error).message}`, { cause: err });
  }
  if (opts.migrate) {
    const applied = await runMigrations(ds);
    if (applied.length) opts.onMigrated?.(applied);
  }
  return ds;
}
