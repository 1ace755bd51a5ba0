import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { AccountFlags, InMemoryLedger, spendableOf, TransferFlags, type TransferRequest } from '../../ledger/core/index.js';
import { SPOT_RULES } from './product-rules.js';
import { Harness, spotTerms } from './scenarios/harness.js';
import type { BookCommand } from './book-commands.js';
import { spendableAhead, spendableChanges, uncommittedBatch } from './uncommitted-batch.js';

const ACCOUNTS = [1n, 2n, 3n, 4n];

const transfer = fc.record({
  debit: fc.constantFrom(...ACCOUNTS),
  credit: fc.constantFrom(...ACCOUNTS),
  amount: fc.bigInt({ min: 1n, max: 1_000_000n }),
});

describe('spendableChanges', () => {
  test('equals the ledger core: each account moves by its spendable balance before and after', () => {
    fc.assert(
      fc.property(fc.array(transfer, { maxLength: 30 }), (moves) => {
        const ledger = new InMemoryLedger();
        for (const id of ACCOUNTS) ledger.openAccount(id, AccountFlags.None);
        const requests: TransferRequest[] = moves
          .filter((m) => m.debit !== m.credit)
          .map((m, i) => ({ id: `t${i}`, debitAccountId: m.debit, creditAccountId: m.credit, amount: m.amount, code: 'test' }));
        const before = new Map(ACCOUNTS.map((id) => [id, spendableOf(ledger.account(id)!)]));
        ledger.createTransfers(requests);
        const changes = spendableChanges(requests)!;
        for (const id of ACCOUNTS) expect(before.get(id)! + (changes.get(id) ?? 0n)).toBe(spendableOf(ledger.account(id)!));
        expect([...changes.values()]).not.toContain(0n);
      }),
    );
  });

  test('gives up on two-phase transfers, whose posts and voids move amounts they do not name', () => {
    const hold: TransferRequest = { id: 'h', debitAccountId: 1n, creditAccountId: 2n, amount: 5n, flags: TransferFlags.Pending, code: 'hold' };
    const post: TransferRequest = { id: 'p', pendingId: 'h', flags: TransferFlags.PostPending, code: 'post' };
    expect(spendableChanges([hold])).toBeUndefined();
    expect(spendableChanges([post])).toBeUndefined();
    expect(spendableChanges([])).toEqual(new Map());
  });
});

describe('planning ahead of a commit', () => {
  /** alice buys 10 lots at 100, bob sells 4 into it, then alice places a second order. */
  const first: BookCommand[] = [
    { kind: 'place', participantId: 'alice', side: 'buy', type: 'limit', timeInForce: 'GTC', priceTicks: 100, lots: 10, postOnly: false, stp: 'cancel_taker', clientOrderId: 'a1' },
    { kind: 'place', participantId: 'bob', side: 'sell', type: 'limit', timeInForce: 'GTC', priceTicks: 100, lots: 4, postOnly: false, stp: 'cancel_taker' },
  ];
  const second: BookCommand[] = [
    { kind: 'place', participantId: 'alice', side: 'buy', type: 'limit', timeInForce: 'GTC', priceTicks: 99, lots: 3, postOnly: false, stp: 'cancel_taker', clientOrderId: 'a1' },
    { kind: 'place', participantId: 'alice', side: 'buy', type: 'limit', timeInForce: 'GTC', priceTicks: 99, lots: 3, postOnly: false, stp: 'cancel_taker', clientOrderId: 'a2' },
  ];
  const harness = () => new Harness({ participants: { alice: 2_000n, bob: 2_000n }, terms: spotTerms({ makerFeeBps: 10, takerFeeBps: 20, bondBps: 1000 }), rules: SPOT_RULES });

  test('balances read before the batch committed, plus its changes, are the balances after it', () => {
    const h = harness();
    const readBefore = h.facts(second).spendable;
    const plan = h.run(first);
    const pending = uncommittedBatch(plan, [])!;
    const readAfter = h.facts(second).spendable;
    expect(plan.transfers.length).toBeGreaterThan(0);
    expect(spendableAhead(readBefore, plan.previousSeq, pending)).toEqual(readAfter);
    // A read that already saw the batch is taken as it is.
    expect(spendableAhead(readAfter, plan.seq, pending)).toEqual(readAfter);
  });

  test('the next batch knows the clientOrderIds and answers of the batch still committing', () => {
    const h = harness();
    const plan = h.run(first);
    const stored = [{ participantId: 'alice', key: 'k1', requestHash: 'ab', statusCode: 201, body: { id: '1' } }];
    const pending = uncommittedBatch(plan, stored)!;
    const aliceOrder = plan.orders.find((o) => o.clientOrderId === 'a1')!;
    expect([...pending.clientOrderIds]).toEqual([[expect.stringContaining('a1'), BigInt(aliceOrder.id)]]);
    expect([...pending.answers.values()]).toEqual([{ requestHash: 'ab', statusCode: 201, body: { id: '1' } }]);
  });

  test('a batch that moves money without a step of the sequence cannot be planned ahead of', () => {
    const transfers: TransferRequest[] = [{ id: 't', debitAccountId: 1n, creditAccountId: 2n, amount: 5n, code: 'x' }];
    expect(uncommittedBatch({ transfers, orders: [], fills: [], seq: 7, previousSeq: 7 }, [])).toBeUndefined();
    expect(uncommittedBatch({ transfers: [], orders: [], fills: [], seq: 7, previousSeq: 7 }, [])).toEqual(expect.objectContaining({ seq: 7 }));
  });
});
