import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';

/**
 * Runs one query on a pooled connection and hands each row to `onRow` as an array, as it arrives,
 * without keeping the result. For big reads (a book's open orders at start-up): TypeORM's `query`
 * keeps every row as an object until the last arrives, so they outlive the young generation and
 * the garbage collector copies and marks them for nothing.
 */
export async function streamRows(dataSource: DataSource, sql: string, params: unknown[], onRow: (row: unknown[]) => void): Promise<number> {
  const [client, release] = (await (dataSource.driver as PostgresDriver).obtainMasterConnection()) as [pg.PoolClient, (error?: Error) => void];
  let count = 0;
  // The pool takes its own error listener off a client it lends: without one of ours, a connection
  // lost during a long read would be an uncaught 'error' event and end the process.
  let lost: ((error: Error) => void) | undefined;
  const onError = (error: Error) => lost?.(error);
  client.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      lost = reject;
      // A throw inside the driver's row event would break its parsing of the connection: keep the
      // first, skip the rest of the rows, and fail once the query has ended.
      let failed: unknown;
      const arrays: pg.QueryArrayConfig<unknown[]> = { text: sql, values: params, rowMode: 'array' };
      const query = new pg.Query(arrays);
      query.on('row', (row: unknown[]) => {
        if (failed !== undefined) return;
        try {
          onRow(row);
          count++;
        } catch (error) {
          failed = error ?? new Error('a row handler threw');
        }
      });
      query.on('end', () => (failed === undefined ? resolve() : reject(failed)));
      query.on('error', reject);
      client.query(query);
    });
  } catch (error) {
    client.off('error', onError);
    release(error as Error);
    throw error;
  }
  client.off('error', onError);
  release();
  return count;
}
