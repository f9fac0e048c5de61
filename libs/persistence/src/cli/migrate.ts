import { loadEnv } from '@medfusion/config';
import { createDataSource, ensureDatabase, redactUrl, runMigrations } from '../data-source.js';

/** `npm run db:migrate`: creates the database if needed and applies pending migrations. */
async function main(): Promise<void> {
  const env = loadEnv();
  await ensureDatabase(env.DATABASE_URL);
  const ds = await createDataSource({ url: env.DATABASE_URL, poolSize: 2 }).initialize();
  try {
    const applied = await runMigrations(ds);
    console.log(
      applied.length
        ? `applied ${applied.length} migration(s) to ${redactUrl(env.DATABASE_URL)}: ${applied.join(', ')}`
        : `${redactUrl(env.DATABASE_URL)} is up to date`,
    );
  } finally {
    await ds.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
