import type pg from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs several statements in one round trip (PostgreSQL's simple query protocol), on a connection
 * of TypeORM's pool. A script that opens a transaction and fails part way leaves it aborted on the
 * server, so it is rolled back here; a connection that failed is discarded rather than reused.
 */
export async function runScript(dataSource: DataSource, script: string): Promise<void> {
  const pool = (dataSource.driver as unknown as { master: pg.Pool }).master;
  const client = await pool.connect();
  try {
    await client.query(script);
  } catch (error) {
    const rolledBack = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    client.release(rolledBack ? undefined : (error as Error));
    throw error;
  }
  client.release();
}
