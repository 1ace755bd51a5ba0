import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  AccountFlags,
  type AccountId,
  auditLedger,
  InMemoryLedger,
  TransferFlags,
  type TransferRequest,
  type TransferResult,
} from '../../src/ledger/core/index.js';
import { LedgerRepository, toAccount, toTransfer } from '../../src/ledger/ledger.repository.js';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { openTestDataSource } from '../support/database.js';

let dataSource: DataSource;
const repository = new LedgerRepository();

beforeAll(async () => {
  dataSource = await openTestDataSource(20);
});
afterAll(async () => {
  await dataSource.destroy();
});

/** Opens accounts for a fresh participant; returns their ids (the first is unconstrained, like `external`). */
async function openAccounts(count: number): Promise<AccountId[]> {
  const [participant] = await dataSource.query(`INSERT INTO participants (name, roles) VALUES ('ledger test', '{buyer}') RETURNING id`);
  const kinds = ['available', 'held', 'escrow', 'margin', 'bond'].slice(0, count);
  const rows: Array<{ id: string }> = await dataSource.query(
    `INSERT INTO accounts (participant_id, kind, flags) SELECT $1, kind, CASE WHEN kind = 'available' THEN 0 ELSE 1 END
       FROM unnest($2::text[]) AS kind RETURNING id`,
    [participant.id, kinds],
  );
  return rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : 1));
}

const statusOf = (r: TransferResult) => (r.status === 'rejected' ? r.code : r.status);

async function storedState(accountIds: AccountId[], prefix: string) {
  const accounts = (
    await dataSource.query(`SELECT * FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id`, [accountIds.map(String)])
  ).map(toAccount);
  const transfers = (await dataSource.query(`SELECT * FROM transfers WHERE id LIKE $1 ORDER BY seq`, [`${prefix}%`])).map(toTransfer);
  return { accounts, transfers };
}

describe('the PostgreSQL ledger behaves exactly like the core in memory', () => {
  test('random histories give the same results, transfers and balances in both', async () => {
    const amount = fc.bigInt({ min: 1n, max: 400n });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(
            fc.record({
              kind: fc.constantFrom('move', 'hold', 'post', 'void'),
              id: fc.nat(15),
              pending: fc.nat(15),
              debit: fc.nat(4),
              credit: fc.nat(4),
              amount,
              partial: fc.boolean(),
              linked: fc.boolean(),
            }),
            { minLength: 1, maxLength: 5 },
          ),
          { minLength: 1, maxLength: 12 },
        ),
        async (batches) => {
          const ids = await openAccounts(5);
          const prefix = `model-${randomUUID()}:`;
          const memory = new InMemoryLedger();
          memory.openAccount(ids[0], AccountFlags.None);
          for (const id of ids.slice(1)) memory.openAccount(id, AccountFlags.DebitsMustNotExceedCredits);
          // Fund every constrained account from the unconstrained one, in both ledgers.
          const seed = ids.slice(1).map((id, i) => ({ id: `${prefix}seed${i}`, debitAccountId: ids[0], creditAccountId: id, amount: 600n, code: 'seed' }));
          memory.createTransfers(seed);
          await dataSource.transaction((m) => repository.createTransfers(m, seed));

          for (const batch of batches) {
            const requests: TransferRequest[] = batch.map((b) => {
              const flags = b.linked ? TransferFlags.Linked : 0;
              const id = `${prefix}t${b.id}`;
              if (b.kind === 'post') {
                return { id, pendingId: `${prefix}t${b.pending}`, amount: b.partial ? b.amount : undefined, flags: flags | TransferFlags.PostPending, code: 'post' };
              }
              if (b.kind === 'void') return { id, pendingId: `${prefix}t${b.pending}`, flags: flags | TransferFlags.VoidPending, code: 'void' };
              return {
                id,
                debitAccountId: ids[b.debit],
                creditAccountId: ids[b.credit],
                amount: b.amount,
                flags: flags | (b.kind === 'hold' ? TransferFlags.Pending : 0),
                code: b.kind,
              };
            });
            const expected = memory.createTransfers(requests).results.map(statusOf);
            const actual = (await dataSource.transaction((m) => repository.createTransfers(m, requests))).map(statusOf);
            expect(actual).toEqual(expected);
          }
          const stored = await storedState(ids, prefix);
          expect(stored.accounts).toEqual(memory.allAccounts().sort((a, b) => (a.id < b.id ? -1 : 1)));
          expect(stored.transfers.map((t: { id: string }) => t.id)).toEqual(memory.allTransfers().map((t) => t.id));
          expect(auditLedger(stored.accounts, stored.transfers).sound).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('concurrency', () => {
  test('concurrent transfers between the same accounts never overdraw and never deadlock', async () => {
    const ids = await openAccounts(4);
    const [source, a, b, c] = ids;
    const prefix = `race-${randomUUID()}:`;
    await dataSource.transaction((m) =>
      repository.createTransfers(m, [
        { id: `${prefix}fund-a`, debitAccountId: source, creditAccountId: a, amount: 1000n, code: 'seed' },
        { id: `${prefix}fund-b`, debitAccountId: source, creditAccountId: b, amount: 1000n, code: 'seed' },
      ]),
    );
    // Transfers in both directions and in multi-account batches, all at once: fixed lock order
    // means they queue instead of deadlocking, and the overdraft rule holds under every interleaving.
    const jobs = Array.from({ length: 120 }, (_, i) => {
      const [from, to] = i % 3 === 0 ? [a, b] : i % 3 === 1 ? [b, a] : [a, c];
      return dataSource.transaction((m) =>
        repository.createTransfers(m, [
          { id: `${prefix}${i}`, debitAccountId: from, creditAccountId: to, amount: 37n, code: 'race' },
          { id: `${prefix}${i}-fee`, debitAccountId: from, creditAccountId: c, amount: 3n, code: 'race-fee' },
        ]),
      );
    });
    const results = (await Promise.all(jobs)).flat();
    expect(results.filter((r) => r.status === 'created').length).toBeGreaterThan(0);
    const stored = await storedState(ids, prefix);
    const audit = auditLedger(stored.accounts, stored.transfers);
    expect(audit.overdrawn).toEqual([]);
    expect(audit.mismatches).toEqual([]);
  });

  test('the same transfer id sent concurrently is applied once; the others are told it exists', async () => {
    const [source, target] = await openAccounts(2);
    const id = `dup-${randomUUID()}`;
    const ledger = new LedgerService(dataSource, repository);
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        ledger.inTransaction((m) => repository.createTransfers(m, [{ id, debitAccountId: source, creditAccountId: target, amount: 5n, code: 'dup' }])),
      ),
    );
    expect(statuses.flat().map(statusOf).sort()).toEqual(['created', ...Array(19).fill('exists')]);
    const [row] = await dataSource.query(`SELECT credits_posted FROM accounts WHERE id = $1`, [String(target)]);
    expect(row.credits_posted).toBe('5');
  });

  test('a hold posted and voided at the same moment resolves exactly once', async () => {
    const [source, target] = await openAccounts(2);
    const prefix = `hold-${randomUUID()}:`;
    const ledger = new LedgerService(dataSource, repository);
    await dataSource.transaction((m) =>
      repository.createTransfers(m, [
        { id: `${prefix}fund`, debitAccountId: source, creditAccountId: target, amount: 100n, code: 'seed' },
        { id: `${prefix}hold`, debitAccountId: target, creditAccountId: source, amount: 60n, code: 'hold', flags: TransferFlags.Pending },
      ]),
    );
    const resolve = (kind: 'post' | 'void') =>
      ledger.inTransaction((m) =>
        repository.createTransfers(m, [
          { id: `${prefix}${kind}`, pendingId: `${prefix}hold`, code: kind, flags: kind === 'post' ? TransferFlags.PostPending : TransferFlags.VoidPending },
        ]),
      );
    const outcomes = (await Promise.all([resolve('post'), resolve('void'), resolve('post'), resolve('void')])).flat().map(statusOf);
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'created' && o !== 'exists').every((o) => /PENDING_TRANSFER_ALREADY_(POSTED|VOIDED)/.test(o))).toBe(true);
    const stored = await storedState([source, target], prefix);
    expect(auditLedger(stored.accounts, stored.transfers).resolvedTwice).toEqual([]);
    const [row] = await dataSource.query(`SELECT debits_pending FROM accounts WHERE id = $1`, [String(target)]);
    expect(row.debits_pending).toBe('0');
  });

  test('the database itself refuses an overdraft, even from a buggy writer', async () => {
    const [, target] = await openAccounts(2);
    await expect(dataSource.query(`UPDATE accounts SET debits_posted = 1 WHERE id = $1`, [String(target)])).rejects.toThrow(
      /accounts_debits_within_credits/,
    );
  });
});
