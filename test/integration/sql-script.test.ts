import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { arrayLiteral, literal } from '../../src/platform/database/sql-literals.js';
import { runScript } from '../../src/platform/database/sql-script.js';
import type { AccountId } from '../../src/ledger/core/index.js';
import { postTransfersSql } from '../../src/ledger/ledger.repository.js';
import { openTestDataSource } from '../support/database.js';

let dataSource: DataSource;

beforeAll(async () => {
  dataSource = await openTestDataSource(4);
});
afterAll(async () => {
  await dataSource.destroy();
});

describe('SQL literals', () => {
  test('any string survives a literal and an array literal unchanged', async () => {
    const nasty = fc.oneof(fc.string(), fc.constantFrom(`'`, `\\`, `"`, `{`, `}`, `,`, `NULL`, ` `, `\\'"{},`, `O'Brien \\n`));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(nasty.filter((s) => !s.includes('\u0000')), { nil: null }), { maxLength: 6 }), async (values) => {
        const [row] = await dataSource.query(`SELECT ${arrayLiteral(values, 'text')} AS array, ${literal(values.join('|'))} AS joined`);
        expect(row.array).toEqual(values);
        expect(row.joined).toBe(values.join('|'));
      }),
      { numRuns: 150 },
    );
  });
});

describe('posting transfers in one script', () => {
  async function openAccounts(): Promise<[AccountId, AccountId]> {
    const [participant] = await dataSource.query(`INSERT INTO participants (name, roles) VALUES ('script test', '{buyer}') RETURNING id`);
    const rows: Array<{ id: string }> = await dataSource.query(
      `INSERT INTO accounts (participant_id, kind, flags) VALUES ($1, 'available', 1), ($1, 'held', 0) RETURNING id`,
      [participant.id],
    );
    return rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : 1)) as [AccountId, AccountId];
  }
  const totals = async (ids: AccountId[]) =>
    (await dataSource.query(`SELECT debits_posted::text AS d, credits_posted::text AS c FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id`, [ids.map(String)])).map(
      (r: { d: string; c: string }) => [r.d, r.c],
    );
  const script = (statements: string[]) => ['BEGIN', ...statements, 'COMMIT'].join(';\n');

  test('inserts the transfers and adds their amounts to both accounts', async () => {
    const [a, b] = await openAccounts();
    const tag = randomUUID();
    // b is unconstrained (like the external account); a may not spend more than it was credited.
    await runScript(dataSource, script(postTransfersSql([{ id: `${tag}:fund`, debitAccountId: b, creditAccountId: a, amount: 100n, code: 'test', ref: "it's" }])));
    await runScript(
      dataSource,
      script(
        postTransfersSql([
          { id: `${tag}:1`, debitAccountId: a, creditAccountId: b, amount: 30n, code: 'test' },
          { id: `${tag}:2`, debitAccountId: a, creditAccountId: b, amount: 5n, code: 'test', ref: 'x' },
        ]),
      ),
    );
    expect(await totals([a, b])).toEqual([
      ['35', '100'],
      ['100', '35'],
    ]);
    const stored = await dataSource.query(`SELECT id, amount::text, ref FROM transfers WHERE id LIKE $1 ORDER BY id`, [`${tag}%`]);
    expect(stored).toEqual([
      { id: `${tag}:1`, amount: '30', ref: null },
      { id: `${tag}:2`, amount: '5', ref: 'x' },
      { id: `${tag}:fund`, amount: '100', ref: "it's" },
    ]);
  });

  test('an overdraft fails the whole script with a CHECK violation, and nothing changes', async () => {
    const [a, b] = await openAccounts();
    const tag = randomUUID();
    await runScript(dataSource, script(postTransfersSql([{ id: `${tag}:fund`, debitAccountId: b, creditAccountId: a, amount: 10n, code: 'test' }])));
    const before = await totals([a, b]);
    const failed = runScript(
      dataSource,
      script([
        `INSERT INTO audit_events (action, subject_type, subject_id) VALUES ('test', 'script', ${literal(tag)})`,
        ...postTransfersSql([{ id: `${tag}:over`, debitAccountId: a, creditAccountId: b, amount: 11n, code: 'test' }]),
      ]),
    );
    await expect(failed).rejects.toMatchObject({ code: '23514' });
    expect(await totals([a, b])).toEqual(before);
    expect(await dataSource.query(`SELECT 1 FROM audit_events WHERE subject_id = $1`, [tag])).toEqual([]);
    // The connection went back to the pool clean: the next script on it commits.
    await runScript(dataSource, script(postTransfersSql([{ id: `${tag}:ok`, debitAccountId: a, creditAccountId: b, amount: 10n, code: 'test' }])));
    expect((await totals([a]))[0]).toEqual(['10', '10']);
  });

  test('a transfer id already used fails the script with a unique violation', async () => {
    const [a, b] = await openAccounts();
    const tag = randomUUID();
    const fund = { id: `${tag}:fund`, debitAccountId: b, creditAccountId: a, amount: 10n, code: 'test' };
    await runScript(dataSource, script(postTransfersSql([fund])));
    await expect(runScript(dataSource, script(postTransfersSql([fund])))).rejects.toMatchObject({ code: '23505' });
    expect(await totals([a, b])).toEqual([
      ['0', '10'],
      ['10', '0'],
    ]);
  });

  test('refuses anything but simple posted transfers', () => {
    expect(() => postTransfersSql([{ id: 'x', debitAccountId: 1n, creditAccountId: 2n, amount: 0n, code: 'test' }])).toThrow(/simple posted/);
    expect(() => postTransfersSql([{ id: 'x', debitAccountId: 1n, creditAccountId: 2n, amount: 1n, code: 'test', pendingId: 'p' }])).toThrow(/simple posted/);
  });
});
