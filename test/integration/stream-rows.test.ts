import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { streamRows } from '../../src/platform/database/stream-rows.js';
import { openTestDataSource } from '../support/database.js';

let dataSource: DataSource;
beforeAll(async () => {
  dataSource = await openTestDataSource(2);
});
afterAll(async () => {
  await dataSource.destroy();
});

describe('streamRows hands each row over as it arrives and leaves the pool sound', () => {
  test('every row, in order, as arrays of the driver-parsed values', async () => {
    const rows: unknown[][] = [];
    const count = await streamRows(dataSource, `SELECT n, n::text || ' x', n % 2 = 0 FROM generate_series(1, $1::int) AS n`, [2_500], (row) => rows.push(row));
    expect(count).toBe(2_500);
    expect(rows[0]).toEqual([1, '1 x', false]);
    expect(rows.at(-1)).toEqual([2_500, '2500 x', true]);
  });

  test("a handler's throw fails the read once, after the query has ended, and the connection serves the next", async () => {
    let seen = 0;
    const read = streamRows(dataSource, `SELECT n FROM generate_series(1, 1000) AS n`, [], ([n]) => {
      seen++;
      if (n === 10) throw new Error('row 10 is bad');
    });
    await expect(read).rejects.toThrow('row 10 is bad');
    expect(seen).toBe(10); // the rows after the throw were skipped
    expect(await dataSource.query(`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  });

  test('an SQL error rejects, and the connection serves the next', async () => {
    await expect(streamRows(dataSource, `SELECT 1 / (n - 3) FROM generate_series(1, 5) AS n`, [], () => undefined)).rejects.toThrow(/division by zero/);
    expect(await dataSource.query(`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  });
});
