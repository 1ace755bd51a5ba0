import pg from 'pg';
import { TEST_DATABASE_URL } from './test-env.js';

/**
 * A database of a test file's own on the test server: the test database's name plus `suffix`.
 *
 * Why: a worker sweeps the whole database it is given (every due window, every unpaid usage,
 * every account for an audit), so on the shared test database its work, and so the test's time,
 * would grow with whatever the files that ran before it left behind.
 */
export interface OwnDatabase {
  readonly url: string;
  /** Drops it, closing whatever is still connected. */
  drop(): Promise<void>;
}

/** Runs `sql` on the test server's `postgres` database (creating and dropping databases). */
async function onTestServer(sql: string): Promise<void> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates it empty (dropping what an earlier run left); the service's start-up migrates it. */
export async function ownDatabase(suffix: string): Promise<OwnDatabase> {
  const url = new URL(TEST_DATABASE_URL);
  const name = `${url.pathname.slice(1)}_${suffix}`;
  url.pathname = `/${name}`;
  const drop = () => onTestServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await drop();
  await onTestServer(`CREATE DATABASE "${name}"`);
  return { url: url.toString(), drop };
}
