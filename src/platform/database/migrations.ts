import { DataSource, type DataSourceOptions } from 'typeorm';

export class UnmigratedDatabaseError extends Error {
  constructor(pending: string[]) {
    super(
      `The database has ${pending.length} pending migration(s): ${pending.join(', ')}. ` +
        'Run `npm run migration:run`, or start with DB_MIGRATE=true.',
    );
    this.name = 'UnmigratedDatabaseError';
  }
}

/** Names of the migrations the code knows and the database has not run. */
export async function pendingMigrations(dataSource: DataSource): Promise<string[]> {
  const hasTable = await dataSource.query(`SELECT to_regclass('migrations') IS NOT NULL AS present`);
  const executed = new Set<string>(
    hasTable[0].present ? (await dataSource.query(`SELECT name FROM migrations`)).map((r: { name: string }) => r.name) : [],
  );
  return dataSource.migrations.map((m) => m.name ?? m.constructor.name).filter((name) => !executed.has(name));
}

/**
 * The service never runs on a schema it does not expect: it applies pending migrations when told
 * to (DB_MIGRATE=true), and otherwise refuses to start. An advisory lock keeps two processes
 * starting together from migrating at once.
 */
export async function ensureMigrated(dataSource: DataSource, migrate: boolean): Promise<void> {
  if (!migrate) {
    const pending = await pendingMigrations(dataSource);
    if (pending.length > 0) throw new UnmigratedDatabaseError(pending);
    return;
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query(`SELECT pg_advisory_lock(hashtext('tokex:migrations'))`);
    // Checked under the lock: whoever waited finds the work done.
    if ((await pendingMigrations(dataSource)).length > 0) await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query(`SELECT pg_advisory_unlock(hashtext('tokex:migrations'))`).catch(() => undefined);
    await runner.release();
  }
}

/**
 * Run before the application boots (both roles): connect once, check or apply migrations, and
 * disconnect. Nothing else has opened a connection yet, so a refusal leaves nothing behind.
 */
export async function prepareSchema(options: DataSourceOptions, migrate: boolean): Promise<void> {
  // Two connections: one holds the migration lock while the other migrates.
  const dataSource = new DataSource({ ...options, extra: { ...(options.extra as object), max: 2 } });
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new Error(`Cannot connect to PostgreSQL (DATABASE_URL): ${(error as Error).message}`);
  }
  try {
    await ensureMigrated(dataSource, migrate);
  } finally {
    await dataSource.destroy();
  }
}
