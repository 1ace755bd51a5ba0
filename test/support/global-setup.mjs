// Once per test run: a fresh, empty test database on the real PostgreSQL. The service's own
// start-up migrates it (DB_MIGRATE=true in the test apps), the way production would.
// Plain JavaScript: Jest loads global setup outside its ESM module mapping.
import pg from 'pg';

export default async function globalSetup() {
  const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tokex_test');
  const database = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
}
