import { describe, expect, test } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { clientOrderKey, type CommandResult } from './book-commands.js';
import { NO_CAPACITY } from './capacity.js';
import { amend, buy, cancel, ENOUGH_CAPACITY, FEES_ACCOUNT, Harness, marketOrder, sell, spotTerms } from './scenarios/harness.js';

const ok = (r: CommandResult | DomainError): CommandResult => {
  if (r instanceof DomainError) throw new Error(`refused: ${r.code} ${r.message}`);
  return r;
};
const code = (r: CommandResult | DomainError) => (r instanceof DomainError ? r.code : 'ok');

describe('planBatch', () => {
  test('a buy rests and holds its notional plus the most fee it could pay on held', () => {
    const h = new Harness({ participants: { alice: 1_000_000n } });
    const plan = h.run([buy('alice', 450, 2000)]);
    // 450 ticks × 2000 lots = 900,000; taker fee ceil(900,000 × 10 / 10,000) = 900; maker 0.
    const order = ok(plan.results[0]).order!;
    expect(order).toMatchObject({ id: 1, status: 'open', hold: 900_900n, priceTicks: 450, quantity: 2000 });
    expect(plan.transfers).toEqual([
      { id: 'order:1:hold', debitAccountId: 10n, creditAccountId: 11n, amount: 900_900n, code: 'order-hold', ref: '1' },
    ]);
    expect(h.balancesOf('alice')).toEqual({ available: 99_100n, held: 900_900n, escrow: 0n, bond: 0n });
    expect(plan.fills).toEqual([]);
    expect(h.state.orders.get(1)).toBe(order);
  });

  test('a spot sell needs an enabled node of the model class', () => {
    const h = new Harness({ participants: { bob: 1_000_000n }, capacity: new Map([['bob', NO_CAPACITY]]) });
    const plan = h.run([sell('bob', 450, 10)]);
    expect(code(plan.results[0])).toBe('NO_ACTIVE_NODE');
    expect(plan.transfers).toEqual([]);
    expect(plan.orders).toEqual([]);
  });

  test('a spot sell may not commit more than its nodes can serve in a window, open sells included', () => {
    // 1 token/s × 86,400 s = 86,400 tokens = 86 lots and 400 tokens.
    const h = new Harness({ participants: { bob: 1_000_000n }, capacity: new Map([['bob', { activeNodes: 1, tokensPerSecond: 1n, soldBefore: 6 }]]) });
    const plan = h.run([sell('bob', 450, 80), sell('bob', 450, 1)]);
    expect(code(plan.results[0])).toBe('ok');
    expect(code(plan.results[1])).toBe('CAPACITY_EXCEEDED');
    expect(code(h.run([sell('bob', 450, 1)]).results[0])).toBe('CAPACITY_EXCEEDED');
  });

  test('a spot sell holds its bond, bondBps of notional, on bond', () => {
    const h = new Harness({ participants: { bob: 100_000n } });
    const plan = h.run([sell('bob', 450, 2000)]);
    // 900,000 × 1000 bps = 90,000.
    expect(ok(plan.results[0]).order!.hold).toBe(90_000n);
    expect(plan.transfers).toEqual([{ id: 'order:1:hold', debitAccountId: 10n, creditAccountId: 13n, amount: 90_000n, code: 'order-bond', ref: '1' }]);
    expect(h.balancesOf('bob')).toEqual({ available: 10_000n, held: 0n, escrow: 0n, bond: 90_000n });
  });

  test("a cross fills at the maker's price: held to escrow and fees, the filled lots' bond moves to the fill", () => {
    const h = new Harness({ participants: { alice: 1_000_000n, bob: 100_000n } });
    h.run([sell('bob', 440, 1000)]);
    const plan = h.run([buy('alice', 450, 1000)]);
    const [fill] = plan.fills;
    // At 440: notional 440,000, taker fee 440; the buy held 450,000 + 450 = 450,450 and releases 10,010.
    expect(fill).toMatchObject({ makerOrderId: 1, takerOrderId: 2, buyerId: 'alice', sellerId: 'bob', takerSide: 'buy', priceTicks: 440, lots: 1000 });
    expect(fill).toMatchObject({ notional: 440_000n, buyerFee: 440n, sellerFee: 0n, bond: 44_000n });
    expect(plan.transfers.map((t) => [t.code, t.debitAccountId, t.creditAccountId, t.amount])).toEqual([
      ['order-hold', 10n, 11n, 450_450n],
      ['fill-escrow', 11n, 12n, 440_000n],
      ['fill-fee', 11n, FEES_ACCOUNT, 440n],
      ['order-hold-release', 11n, 10n, 10_010n],
    ]);
    expect(h.balancesOf('alice')).toEqual({ available: 559_560n, held: 0n, escrow: 440_000n, bond: 0n });
    expect(h.balancesOf('bob')).toEqual({ available: 56_000n, held: 0n, escrow: 0n, bond: 44_000n });
    expect(h.fees()).toBe(440n);
    expect(plan.orders.map((o) => [o.id, o.status, o.hold])).toEqual([
      [2, 'filled', 0n],
      [1, 'filled', 0n],
    ]);
    expect(plan.deliveries).toEqual(plan.fills);
    expect(h.state.orders.size).toBe(0);
  });

  test('INSUFFICIENT_FUNDS refuses a place and leaves no transfer or order in the plan', () => {
    const h = new Harness({ participants: { alice: 900_899n, bob: 1_000_000n } });
    const plan = h.run([buy('alice', 450, 2000), buy('bob', 100, 10)]);
    expect(code(plan.results[0])).toBe('INSUFFICIENT_FUNDS');
    expect(plan.transfers.map((t) => t.ref)).toEqual(['2']);
    expect(plan.orders.map((o) => o.id)).toEqual([2]);
    expect(h.balancesOf('alice').available).toBe(900_899n);
  });

  test('funds reserved earlier in the batch are not spent twice', () => {
    const h = new Harness({ participants: { alice: 1_001n * 2n - 1n } });
    const plan = h.run([buy('alice', 100, 10), buy('alice', 100, 10)]);
    expect(plan.results.map(code)).toEqual(['ok', 'INSUFFICIENT_FUNDS']);
  });

  test('a repeated clientOrderId returns the first order, from the facts and within the batch', () => {
    const known = new Map([[clientOrderKey('alice', 'a-1'), 77n]]);
    const h = new Harness({ participants: { alice: 1_000_000n }, knownClientOrderIds: known });
    const plan = h.run([buy('alice', 100, 1, { clientOrderId: 'a-1' }), buy('alice', 100, 1, { clientOrderId: 'a-2' }), buy('alice', 100, 1, { clientOrderId: 'a-2' })]);
    expect(ok(plan.results[0]).duplicateOf).toBe(77n);
    expect(ok(plan.results[1]).order!.id).toBe(2);
    expect(ok(plan.results[2]).duplicateOf).toBe(2n);
    expect(plan.orders.map((o) => o.id)).toEqual([2]);
    // Another participant may use the same clientOrderId.
    const h2 = new Harness({ participants: { alice: 1_000_000n, bob: 1_000_000n }, knownClientOrderIds: known });
    expect(ok(h2.run([buy('bob', 100, 1, { clientOrderId: 'a-1' })]).results[0]).duplicateOf).toBeUndefined();
  });

  test('a halted instrument refuses places and raising amends, but allows cancels and reducing amends', () => {
    const h = new Harness({ participants: { alice: 1_000_000n } });
    h.run([buy('alice', 100, 10), buy('alice', 100, 10)]);
    h.terms = spotTerms({ status: 'halted' });
    const plan = h.run([buy('alice', 100, 1), amend('alice', 1, { lots: 20 }), amend('alice', 1, { priceTicks: 90 }), amend('alice', 1, { lots: 4 }), cancel('alice', 2)]);
    expect(plan.results.map(code)).toEqual(['INSTRUMENT_HALTED', 'INSTRUMENT_HALTED', 'INSTRUMENT_HALTED', 'ok', 'ok']);
    // Order 1: 10 lots hold 1,000 + 1 = 1,001; at 4 lots 400 + 1 = 401; release 600. Order 2 releases 1,001.
    expect(plan.transfers.map((t) => [t.ref, t.code, t.amount])).toEqual([
      ['1', 'order-hold-release', 600n],
      ['2', 'order-hold-release', 1_001n],
    ]);
    expect(h.balancesOf('alice')).toEqual({ available: 999_599n, held: 401n, escrow: 0n, bond: 0n });
  });

  test('cancel releases the hold back to available, and only the owner may cancel', () => {
    const h = new Harness({ participants: { alice: 1_000_000n, bob: 0n } });
    h.run([buy('alice', 450, 2000)]);
    const plan = h.run([cancel('bob', 1), cancel('alice', 1), cancel('alice', 1)]);
    expect(plan.results.map(code)).toEqual(['ORDER_NOT_FOUND', 'ok', 'ORDER_NOT_FOUND']);
    expect(ok(plan.results[1]).order).toMatchObject({ status: 'cancelled', closeReason: 'user', hold: 0n });
    expect(plan.transfers.map((t) => [t.id, t.code, t.amount])).toEqual([['order:1:close:2', 'order-hold-release', 900_900n]]);
    expect(h.balancesOf('alice')).toEqual({ available: 1_000_000n, held: 0n, escrow: 0n, bond: 0n });
  });

  test('a market order on a book with no reference uses the index price and holds at its collar', () => {
    const h = new Harness({ participants: { alice: 1_000_000n, bob: 100_000n }, indexPriceTicks: 400 });
    h.run([sell('bob', 420, 100)]);
    const plan = h.run([marketOrder('alice', 'buy', 100)]);
    // Reference 400, collar +10 %: held at 440 × 100 = 44,000 + 44 fee; fills at 420: 42,000 + 42.
    expect(plan.results.map(code)).toEqual(['ok']);
    expect(plan.transfers[0].amount).toBe(44_044n);
    expect(plan.fills[0]).toMatchObject({ priceTicks: 420, notional: 42_000n, buyerFee: 42n });
    expect(plan.referencePriceTicks).toBe(420);
    expect(h.balancesOf('alice')).toEqual({ available: 957_958n, held: 0n, escrow: 42_000n, bond: 0n });
  });

  test('without a reference or index a market order is refused', () => {
    const h = new Harness({ participants: { alice: 1_000_000n } });
    const plan = h.run([marketOrder('alice', 'buy', 1)]);
    expect(code(plan.results[0])).toBe('NO_REFERENCE_PRICE');
    expect(plan.seq).toBe(plan.previousSeq);
  });

  test('seq counts the engine commands of the batch and levels list the L2 changes', () => {
    const h = new Harness({ participants: { alice: 1_000_000n, bob: 1_000_000n } });
    const first = h.run([buy('alice', 100, 5), buy('alice', 100, 3), sell('bob', 110, 2)]);
    expect([first.previousSeq, first.seq]).toEqual([0, 3]);
    expect(first.levels).toEqual([
      { side: 'buy', priceTicks: 100, quantity: 8, orderCount: 2 },
      { side: 'sell', priceTicks: 110, quantity: 2, orderCount: 1 },
    ]);
    const second = h.run([sell('bob', 100, 5), cancel('bob', 3)]);
    expect([second.previousSeq, second.seq]).toEqual([3, 5]);
    expect(second.levels).toEqual([
      { side: 'buy', priceTicks: 100, quantity: 3, orderCount: 1 },
      { side: 'sell', priceTicks: 110, quantity: 0, orderCount: 0 },
    ]);
    const refused = h.run([cancel('bob', 3)]);
    expect([refused.previousSeq, refused.seq, refused.levels]).toEqual([5, 5, []]);
  });

  test('ENOUGH_CAPACITY lets a provider sell', () => {
    const h = new Harness({ participants: { bob: 1_000_000n }, capacity: new Map([['bob', ENOUGH_CAPACITY]]) });
    expect(code(h.run([sell('bob', 100, 8640)]).results[0])).toBe('ok');
  });
});
