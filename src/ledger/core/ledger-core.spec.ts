import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import {
  AccountFlags,
  auditLedger,
  balanceOf,
  InMemoryLedger,
  LedgerRejection,
  spendableOf,
  TransferFlags,
  type TransferRequest,
  type TransferResult,
} from './index.js';

// Accounts of one scenario: the outside world, and a participant's cash.
const EXTERNAL = 1n;
const ALICE = 2n;
const BOB = 3n;
const FEES = 4n;

const statusOf = (r: TransferResult) => (r.status === 'rejected' ? r.code : r.status);

describe('ledger core', () => {
  let ledger: InMemoryLedger;
  const apply = (...requests: TransferRequest[]) => ledger.createTransfers(requests).results.map(statusOf);
  const deposit = (id: string, account: bigint, amount: bigint) =>
    apply({ id, debitAccountId: EXTERNAL, creditAccountId: account, amount, code: 'deposit' });

  beforeEach(() => {
    ledger = new InMemoryLedger();
    ledger.openAccount(EXTERNAL, AccountFlags.None);
    for (const id of [ALICE, BOB, FEES]) ledger.openAccount(id, AccountFlags.DebitsMustNotExceedCredits);
  });

  // Every scenario ends balanced, with totals equal to a rebuild from its transfers.
  afterEach(() => {
    expect(auditLedger(ledger.allAccounts(), ledger.allTransfers()).sound).toBe(true);
  });

  test('a deposit moves money from the outside into an account', () => {
    expect(deposit('d1', ALICE, 100n)).toEqual(['created']);
    expect(balanceOf(ledger.account(ALICE)!)).toBe(100n);
    expect(balanceOf(ledger.account(EXTERNAL)!)).toBe(-100n);
  });

  test('the same id and body again changes nothing and returns the first transfer', () => {
    deposit('d1', ALICE, 100n);
    const again = ledger.createTransfers([{ id: 'd1', debitAccountId: EXTERNAL, creditAccountId: ALICE, amount: 100n, code: 'deposit' }]);
    expect(again.results[0]).toEqual({ status: 'exists', transfer: ledger.transfer('d1') });
    expect(again.created).toEqual([]);
    expect(balanceOf(ledger.account(ALICE)!)).toBe(100n);
  });

  test('the same id with another body is a conflict', () => {
    deposit('d1', ALICE, 100n);
    expect(deposit('d1', ALICE, 101n)).toEqual([LedgerRejection.ExistsWithDifferentFields]);
    expect(deposit('d1', BOB, 100n)).toEqual([LedgerRejection.ExistsWithDifferentFields]);
    expect(apply({ id: 'd1', debitAccountId: EXTERNAL, creditAccountId: ALICE, amount: 100n, code: 'deposit', ref: 'x' })).toEqual([
      LedgerRejection.ExistsWithDifferentFields,
    ]);
  });

  test('a flagged account can never be overdrawn', () => {
    deposit('d1', ALICE, 100n);
    expect(apply({ id: 't1', debitAccountId: ALICE, creditAccountId: BOB, amount: 101n, code: 'pay' })).toEqual([
      LedgerRejection.ExceedsCredits,
    ]);
    expect(apply({ id: 't2', debitAccountId: ALICE, creditAccountId: BOB, amount: 100n, code: 'pay' })).toEqual(['created']);
    expect(spendableOf(ledger.account(ALICE)!)).toBe(0n);
  });

  test('input errors are rejected with a code', () => {
    deposit('d1', ALICE, 100n);
    expect(apply({ id: '', debitAccountId: ALICE, creditAccountId: BOB, amount: 1n, code: 'x' })).toEqual([LedgerRejection.IdRequired]);
    expect(apply({ id: 'a'.repeat(161), debitAccountId: ALICE, creditAccountId: BOB, amount: 1n, code: 'x' })).toEqual([
      LedgerRejection.IdTooLong,
    ]);
    expect(apply({ id: 'x1', debitAccountId: ALICE, creditAccountId: BOB, amount: 0n, code: 'x' })).toEqual([
      LedgerRejection.AmountMustBePositive,
    ]);
    expect(apply({ id: 'x2', debitAccountId: ALICE, creditAccountId: BOB, amount: -5n, code: 'x' })).toEqual([
      LedgerRejection.AmountMustBePositive,
    ]);
    expect(apply({ id: 'x3', debitAccountId: ALICE, creditAccountId: ALICE, amount: 1n, code: 'x' })).toEqual([
      LedgerRejection.AccountsMustBeDifferent,
    ]);
    expect(apply({ id: 'x4', debitAccountId: 99n, creditAccountId: ALICE, amount: 1n, code: 'x' })).toEqual([
      LedgerRejection.DebitAccountNotFound,
    ]);
    expect(apply({ id: 'x5', debitAccountId: ALICE, creditAccountId: 99n, amount: 1n, code: 'x' })).toEqual([
      LedgerRejection.CreditAccountNotFound,
    ]);
    expect(apply({ id: 'x6', creditAccountId: BOB, amount: 1n, code: 'x' })).toEqual([LedgerRejection.AccountsRequired]);
    expect(apply({ id: 'x7', debitAccountId: ALICE, creditAccountId: BOB, amount: 1n, code: 'x', flags: 1 << 7 })).toEqual([
      LedgerRejection.InvalidFlags,
    ]);
    expect(
      apply({ id: 'x8', debitAccountId: ALICE, creditAccountId: BOB, amount: 1n, code: 'x', flags: TransferFlags.Pending | TransferFlags.VoidPending }),
    ).toEqual([LedgerRejection.InvalidFlags]);
    expect(apply({ id: 'x9', debitAccountId: ALICE, creditAccountId: BOB, amount: 1n, code: '' })).toEqual([LedgerRejection.CodeRequired]);
    expect(apply({ id: 'x10', debitAccountId: ALICE, creditAccountId: BOB, amount: 1n, code: 'x', pendingId: 'p' })).toEqual([
      LedgerRejection.PendingIdMustBeAbsent,
    ]);
    expect(ledger.allTransfers()).toHaveLength(1);
  });

  test('totals beyond BIGINT overflow instead of wrapping', () => {
    expect(deposit('d1', ALICE, (1n << 63n) - 1n)).toEqual(['created']);
    expect(deposit('d2', ALICE, 1n)).toEqual([LedgerRejection.Overflow]);
  });

  describe('pending transfers (holds)', () => {
    const hold = (id: string, amount: bigint) =>
      apply({ id, debitAccountId: ALICE, creditAccountId: EXTERNAL, amount, code: 'withdrawal', flags: TransferFlags.Pending });

    beforeEach(() => {
      deposit('d1', ALICE, 100n);
    });

    test('a hold reserves the amount without moving it', () => {
      expect(hold('h1', 60n)).toEqual(['created']);
      expect(balanceOf(ledger.account(ALICE)!)).toBe(100n);
      expect(spendableOf(ledger.account(ALICE)!)).toBe(40n);
      expect(hold('h2', 41n)).toEqual([LedgerRejection.ExceedsCredits]);
    });

    test('posting in full moves the amount', () => {
      hold('h1', 60n);
      expect(apply({ id: 'p1', pendingId: 'h1', flags: TransferFlags.PostPending, code: 'withdrawal-paid' })).toEqual(['created']);
      expect(ledger.transfer('p1')!.amount).toBe(60n);
      expect(balanceOf(ledger.account(ALICE)!)).toBe(40n);
      expect(spendableOf(ledger.account(ALICE)!)).toBe(40n);
    });

    test('posting in part moves that part and releases the rest', () => {
      hold('h1', 60n);
      expect(apply({ id: 'p1', pendingId: 'h1', amount: 25n, flags: TransferFlags.PostPending, code: 'paid' })).toEqual(['created']);
      expect(balanceOf(ledger.account(ALICE)!)).toBe(75n);
      expect(spendableOf(ledger.account(ALICE)!)).toBe(75n);
      expect(apply({ id: 'p2', pendingId: 'h2', amount: 61n, flags: TransferFlags.PostPending, code: 'paid' })).toEqual([
        LedgerRejection.PendingTransferNotFound,
      ]);
    });

    test('a post may not exceed the pending amount', () => {
      hold('h1', 60n);
      expect(apply({ id: 'p1', pendingId: 'h1', amount: 61n, flags: TransferFlags.PostPending, code: 'paid' })).toEqual([
        LedgerRejection.ExceedsPendingAmount,
      ]);
    });

    test('voiding releases the whole amount', () => {
      hold('h1', 60n);
      expect(apply({ id: 'v1', pendingId: 'h1', flags: TransferFlags.VoidPending, code: 'rejected' })).toEqual(['created']);
      expect(spendableOf(ledger.account(ALICE)!)).toBe(100n);
      expect(apply({ id: 'v2', pendingId: 'h1', amount: 1n, flags: TransferFlags.VoidPending, code: 'rejected' })).toEqual([
        LedgerRejection.PendingTransferAlreadyVoided,
      ]);
    });

    test('a pending transfer resolves at most once', () => {
      hold('h1', 60n);
      apply({ id: 'p1', pendingId: 'h1', flags: TransferFlags.PostPending, code: 'paid' });
      expect(apply({ id: 'p2', pendingId: 'h1', flags: TransferFlags.PostPending, code: 'paid' })).toEqual([
        LedgerRejection.PendingTransferAlreadyPosted,
      ]);
      expect(apply({ id: 'v1', pendingId: 'h1', flags: TransferFlags.VoidPending, code: 'rejected' })).toEqual([
        LedgerRejection.PendingTransferAlreadyPosted,
      ]);
      // Repeating the post itself is idempotent.
      expect(apply({ id: 'p1', pendingId: 'h1', flags: TransferFlags.PostPending, code: 'paid' })).toEqual(['exists']);
    });

    test('only pending transfers can be resolved, against their own accounts', () => {
      hold('h1', 60n);
      expect(apply({ id: 'p1', pendingId: 'd1', flags: TransferFlags.PostPending, code: 'paid' })).toEqual([
        LedgerRejection.PendingTransferNotPending,
      ]);
      expect(apply({ id: 'p2', pendingId: 'h1', debitAccountId: BOB, flags: TransferFlags.PostPending, code: 'paid' })).toEqual([
        LedgerRejection.PendingTransferHasDifferentAccounts,
      ]);
      expect(apply({ id: 'p3', flags: TransferFlags.PostPending, code: 'paid' })).toEqual([LedgerRejection.PendingIdRequired]);
      expect(apply({ id: 'v1', pendingId: 'h1', amount: 59n, flags: TransferFlags.VoidPending, code: 'x' })).toEqual([
        LedgerRejection.VoidAmountMustMatch,
      ]);
      expect(apply({ id: 'p4', pendingId: 'h1', amount: 0n, flags: TransferFlags.PostPending, code: 'x' })).toEqual([
        LedgerRejection.AmountMustBePositive,
      ]);
    });
  });

  describe('linked transfers', () => {
    const linked = TransferFlags.Linked;

    test('a chain applies all or none', () => {
      deposit('d1', ALICE, 100n);
      const results = apply(
        { id: 'c1', debitAccountId: ALICE, creditAccountId: BOB, amount: 90n, code: 'trade', flags: linked },
        { id: 'c2', debitAccountId: ALICE, creditAccountId: FEES, amount: 20n, code: 'fee' },
      );
      expect(results).toEqual([LedgerRejection.LinkedEventFailed, LedgerRejection.ExceedsCredits]);
      expect(ledger.transfer('c1')).toBeUndefined();
      expect(balanceOf(ledger.account(ALICE)!)).toBe(100n);
      expect(balanceOf(ledger.account(BOB)!)).toBe(0n);
    });

    test('a chain that succeeds applies every transfer; transfers outside it are independent', () => {
      deposit('d1', ALICE, 100n);
      const results = apply(
        { id: 'x', debitAccountId: BOB, creditAccountId: ALICE, amount: 1n, code: 'lone' },
        { id: 'c1', debitAccountId: ALICE, creditAccountId: BOB, amount: 90n, code: 'trade', flags: linked },
        { id: 'c2', debitAccountId: ALICE, creditAccountId: FEES, amount: 10n, code: 'fee' },
        { id: 'y', debitAccountId: EXTERNAL, creditAccountId: BOB, amount: 5n, code: 'deposit' },
      );
      expect(results).toEqual([LedgerRejection.ExceedsCredits, 'created', 'created', 'created']);
      expect(balanceOf(ledger.account(BOB)!)).toBe(95n);
      expect(balanceOf(ledger.account(FEES)!)).toBe(10n);
    });

    test('a batch that ends inside a chain applies none of it', () => {
      deposit('d1', ALICE, 100n);
      const results = apply(
        { id: 'c1', debitAccountId: ALICE, creditAccountId: BOB, amount: 10n, code: 'a', flags: linked },
        { id: 'c2', debitAccountId: ALICE, creditAccountId: BOB, amount: 10n, code: 'b', flags: linked },
      );
      expect(results).toEqual([LedgerRejection.LinkedEventFailed, LedgerRejection.LinkedEventChainOpen]);
      expect(ledger.allTransfers()).toHaveLength(1);
    });

    test('a failed chain also undoes the post of a hold inside it', () => {
      deposit('d1', ALICE, 100n);
      apply({ id: 'h1', debitAccountId: ALICE, creditAccountId: BOB, amount: 50n, code: 'hold', flags: TransferFlags.Pending });
      const results = apply(
        { id: 'p1', pendingId: 'h1', code: 'post', flags: TransferFlags.PostPending | linked },
        { id: 'f1', debitAccountId: ALICE, creditAccountId: FEES, amount: 51n, code: 'fee' },
      );
      expect(results).toEqual([LedgerRejection.LinkedEventFailed, LedgerRejection.ExceedsCredits]);
      expect(ledger.resolution('h1')).toBeUndefined();
      expect(spendableOf(ledger.account(ALICE)!)).toBe(50n);
      expect(apply({ id: 'p1', pendingId: 'h1', code: 'post', flags: TransferFlags.PostPending })).toEqual(['created']);
    });
  });
});

