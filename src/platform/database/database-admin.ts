import pg from 'pg';

/**
 * Creating and dropping whole databases, for the demo, the benchmarks and the tests, which each
 * run on a database of their own. Such statements need a connection to another database of the
 * same server: its `postgres` database.
 */
async function onServer(databaseUrl: string, statements: readonly string[]): Promise<void> {
  const server = new URL(databaseUrl);
  server.pathname = '/postgres';
  const client = new pg.Client({ connectionString: server.toString() });
  await client.connect();
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}

/** As the pg driver reads it (decodeURI, not decodeURIComponent), quoted for SQL. */
const nameOf = (databaseUrl: string) => decodeURI(new URL(databaseUrl).pathname.slice(1)).replaceAll('"', '""');

/** Drops the database `databaseUrl` names, closing whatever is still connected to it. */
export function dropDatabase(databaseUrl: string): Promise<void> {
  return onServer(databaseUrl, [`DROP DATABASE IF EXISTS "${nameOf(databaseUrl)}" WITH (FORCE)`]);
}

/** Drops the database `databaseUrl` names, if it exists, and creates it empty. */
export function recreateDatabase(databaseUrl: string): Promise<void> {
  const name = nameOf(databaseUrl);
  return onServer(databaseUrl, [`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, `CREATE DATABASE "${name}"`]);
}
