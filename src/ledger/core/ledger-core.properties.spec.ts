import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  AccountFlags,
  auditLedger,
  hasFlag,
  InMemoryLedger,
  LedgerRejection,
  TransferFlags,
  type TransferRequest,
  type TransferResult,
} from './index.js';

// A small world so that ids, accounts and holds collide often: account 1 is the unconstrained
// outside world, accounts 2..5 can never be overdrawn.
const ACCOUNTS = [1n, 2n, 3n, 4n, 5n];
const ids = fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `t${i}`));
const account = fc.constantFrom(...ACCOUNTS);
const amount = fc.bigInt({ min: 1n, max: 300n });

const move = fc.record({
  id: ids,
  debitAccountId: account,
  creditAccountId: account,
  amount,
  code: fc.constantFrom('a', 'b'),
  flags: fc.constantFrom(TransferFlags.None, TransferFlags.Pending),
});
const post = fc.record({
  id: ids,
  pendingId: ids,
  amount: fc.option(amount, { nil: undefined }),
  code: fc.constant('post'),
  flags: fc.constant(TransferFlags.PostPending),
});
const voiding = fc.record({ id: ids, pendingId: ids, code: fc.constant('void'), flags: fc.constant(TransferFlags.VoidPending) });
const request: fc.Arbitrary<TransferRequest> = fc.oneof({ weight: 5, arbitrary: move }, { weight: 2, arbitrary: post }, { weight: 1, arbitrary: voiding });

/** A batch of requests, some linked to the next. */
const batch = fc.array(fc.tuple(request, fc.boolean()), { minLength: 1, maxLength: 6 }).map((items) =>
  items.map(([r, linked]) => ({ ...r, flags: (r.flags ?? 0) | (linked ? TransferFlags.Linked : 0) })),
);

function newLedger(): InMemoryLedger {
  const ledger = new InMemoryLedger();
  ledger.openAccount(1n, AccountFlags.None);
  for (const id of ACCOUNTS.slice(1)) ledger.openAccount(id, AccountFlags.DebitsMustNotExceedCredits);
  // Seed money so that transfers between constrained accounts can succeed.
  ledger.createTransfers(ACCOUNTS.slice(1).map((id) => ({ id: `seed${id}`, debitAccountId: 1n, creditAccountId: id, amount: 500n, code: 'seed' })));
  return ledger;
}

/** The chains of a batch, as [start, end] index pairs (inclusive). */
function chainsOf(requests: readonly TransferRequest[]): Array<[number, number]> {
  const chains: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < requests.length; i++) {
    if (!hasFlag(requests[i].flags ?? 0, TransferFlags.Linked) || i === requests.length - 1) {
      chains.push([start, i]);
      start = i + 1;
    }
  }
  return chains;
}

const applied = (r: TransferResult) => r.status !== 'rejected';

describe('ledger core properties', () => {
  test('random histories keep the ledger sound: zero sum, no overdraft, holds resolved once, totals = rebuild', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 25 }), (batches) => {
        const ledger = newLedger();
        for (const requests of batches) {
          ledger.createTransfers(requests);
          const audit = auditLedger(ledger.allAccounts(), ledger.allTransfers());
          expect(audit.trialBalance.balanced).toBe(true);
          expect(audit.overdrawn).toEqual([]);
          expect(audit.resolvedTwice).toEqual([]);
          expect(audit.mismatches).toEqual([]);
        }
      }),
      { numRuns: 400 },
    );
  });

  test('a chain applies all or none', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 15 }), (batches) => {
        const ledger = newLedger();
        for (const requests of batches) {
          const before = ledger.allTransfers().length;
          const { results, created } = ledger.createTransfers(requests);
          for (const [start, end] of chainsOf(requests)) {
            const chain = results.slice(start, end + 1);
            const open = end === requests.length - 1 && hasFlag(requests[end].flags ?? 0, TransferFlags.Linked);
            if (open) expect(chain.every((r) => r.status === 'rejected')).toBe(true);
            else expect(chain.every(applied) || chain.every((r) => r.status === 'rejected')).toBe(true);
          }
          expect(ledger.allTransfers().length - before).toBe(created.length);
          expect(created.length).toBe(results.filter((r) => r.status === 'created').length);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('repeating a request changes nothing: the same body is `exists`, another body a conflict', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 15 }), fc.array(request, { minLength: 1, maxLength: 10 }), (batches, probes) => {
        const ledger = newLedger();
        const createdBodies = new Map<string, TransferRequest>();
        for (const requests of batches) {
          ledger.createTransfers(requests).results.forEach((r, i) => {
            if (r.status === 'created') createdBodies.set(r.transfer.id, { ...requests[i], flags: r.transfer.flags });
          });
        }
        // Replay each created request exactly, then probes that may reuse an id with another body.
        const replays = [...createdBodies.values()];
        const before = JSON.stringify(ledger.allAccounts(), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
        const { results, created } = ledger.createTransfers(replays);
        expect(created).toEqual([]);
        expect(results.map((r) => r.status)).toEqual(replays.map(() => 'exists'));
        expect(JSON.stringify(ledger.allAccounts(), (_, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(before);

        for (const probe of probes) {
          const recorded = ledger.transfer(probe.id);
          const [result] = ledger.createTransfers([probe]).results;
          if (recorded) expect(['exists', LedgerRejection.ExistsWithDifferentFields]).toContain(result.status === 'rejected' ? result.code : result.status);
        }
      }),
      { numRuns: 300 },
    );
  });
});
