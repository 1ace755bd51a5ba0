import { dropDatabase, recreateDatabase } from '../../src/platform/database/database-admin.js';
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

/** Creates it empty (dropping what an earlier run left); the service's start-up migrates it. */
export async function ownDatabase(suffix: string): Promise<OwnDatabase> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${url.pathname.slice(1)}_${suffix}`;
  await recreateDatabase(url.toString());
  return { url: url.toString(), drop: () => dropDatabase(url.toString()) };
}
