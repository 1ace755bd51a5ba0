import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { AccountId, TransferRequest } from '../../src/ledger/core/index.js';
import { LedgerRepository, postTransfersSql } from '../../src/ledger/ledger.repository.js';
import { openTestDataSource } from '../support/database.js';
import { TEST_DATABASE_URL } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

// Issue 15 item 5: the fee account is locked last by every ledger write, so a batch that waits for
// another of its accounts does not hold the fee account meanwhile (every order commit and
// settlement batch credits it). Both write paths: the repository's (settlement, funding) and the
// one-round-trip script's (the order writer).
let dataSource: DataSource;
let holder: pg.Client;
let prober: pg.Client;
let fees: AccountId;

beforeAll(async () => {
  dataSource = await openTestDataSource(5);
  [holder, prober] = [new pg.Client({ connectionString: TEST_DATABASE_URL }), new pg.Client({ connectionString: TEST_DATABASE_URL })];
  await Promise.all([holder.connect(), prober.connect()]);
  const [row] = await dataSource.query(`SELECT id FROM accounts WHERE participant_id IS NULL AND kind = 'fees'`);
  fees = BigInt(row.id);
});
afterAll(async () => {
  await Promise.all([holder.end(), prober.end()]);
  await dataSource.destroy();
});

/** A fresh participant's available account, with cash in it; its id is above the fee account's. */
async function fundedAccount(): Promise<AccountId> {
  const [participant] = await dataSource.query(`INSERT INTO participants (name, roles) VALUES ('fee lock test', '{buyer}') RETURNING id`);
  const [account] = await dataSource.query(`INSERT INTO accounts (participant_id, kind, flags) VALUES ($1, 'available', 0) RETURNING id`, [participant.id]);
  return BigInt(account.id);
}

/** Whether another transaction could lock the fee account right now. */
async function feeAccountFree(): Promise<boolean> {
  await prober.query('BEGIN');
  try {
    await prober.query(`SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE NOWAIT`, [String(fees)]);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return false; // lock_not_available
    throw error;
  } finally {
    await prober.query('ROLLBACK');
  }
}

const waitingOnALock = () =>
  waitFor('the ledger write waiting on the held account', async () => {
    const { rows } = await prober.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    return rows[0].n > 0 ? true : undefined;
  });

describe('the fee account is locked last', () => {
  test.each([
    ['the repository (settlement, funding)', 'repository'],
    ['the order writer’s script', 'script'],
  ])('by %s: a write waiting for a payer’s account does not hold the fee account', async (_name, path) => {
    const payer = await fundedAccount();
    const fee: TransferRequest = { id: `fee-lock:${randomUUID()}`, debitAccountId: payer, creditAccountId: fees, amount: 1n, code: 'fill-fee' };
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, [String(payer)]);

    const write =
      path === 'repository'
        ? dataSource.transaction((manager) => new LedgerRepository().createTransfers(manager, [fee]))
        : dataSource.query(['BEGIN', ...postTransfersSql([fee]), 'COMMIT'].join(';\n'));
    try {
      await waitingOnALock();
      expect(await feeAccountFree()).toBe(true);
    } finally {
      await holder.query('COMMIT');
      await write;
    }
    const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM transfers WHERE id = $1`, [fee.id]);
    expect(n).toBe(1);
  });
});
