import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { type DeliveryTerms, NOTHING_REFUNDED } from './delivery-money.js';
import {
  accountsFor,
  batchTotals,
  closeStep,
  type DeliveryPosition,
  disputeRefundStep,
  isWorthRecording,
  payoutStep,
  routeTransfers,
  type SettlementAccounts,
  type SettlementTransferCode,
  type Step,
} from './settlement-steps.js';

/** Accounts named by what they are, so a test reads which money went where. */
const ACCOUNTS: SettlementAccounts<string> = {
  buyer: { available: 'buyer.available', escrow: 'buyer.escrow', bond: 'buyer.bond' },
  provider: { available: 'provider.available', escrow: 'provider.escrow', bond: 'provider.bond' },
  fees: 'fees',
};
const CODES: SettlementTransferCode[] = ['delivery-payout', 'delivery-take-or-pay', 'delivery-fee', 'delivery-refund', 'delivery-penalty', 'delivery-bond-release'];

const position = (terms: DeliveryTerms, over: Partial<DeliveryPosition> = {}): DeliveryPosition => ({
  id: 'd',
  terms,
  paidTokens: 0n,
  disputedTokens: 0n,
  refunded: NOTHING_REFUNDED,
  unpaidTokens: 0n,
  unpaidUsageIds: [],
  ...over,
});
const TERMS: DeliveryTerms = { quantity: 1_000_000n, notional: 500_000n, sellerFee: 500n, bond: 50_000n };

describe('the accounts each movement is between', () => {
  test('as docs/settlement.md draws them', () => {
    expect(Object.fromEntries(CODES.map((c) => [c, accountsFor(c, ACCOUNTS)]))).toEqual({
      'delivery-payout': { debit: 'buyer.escrow', credit: 'provider.available' },
      'delivery-take-or-pay': { debit: 'buyer.escrow', credit: 'provider.available' },
      'delivery-fee': { debit: 'buyer.escrow', credit: 'fees' },
      'delivery-refund': { debit: 'buyer.escrow', credit: 'buyer.available' },
      'delivery-penalty': { debit: 'provider.bond', credit: 'buyer.available' },
      'delivery-bond-release': { debit: 'provider.bond', credit: 'provider.available' },
    });
  });

  test('a payout moves the buyer escrow to the provider and the fee; zero movements are dropped', () => {
    const step = payoutStep(position(TERMS, { unpaidTokens: 300_000n, unpaidUsageIds: ['u1'] }));
    expect(step).toMatchObject({ key: 'payout:d:300000', kind: 'payout', tokens: 300_000n, usageIds: ['u1'] });
    expect(routeTransfers(step.transfers, ACCOUNTS)).toEqual([
      { id: 'payout:d:300000:provider', code: 'delivery-payout', amount: 149_850n, ref: 'd', debitAccountId: 'buyer.escrow', creditAccountId: 'provider.available' },
      { id: 'payout:d:300000:fee', code: 'delivery-fee', amount: 150n, ref: 'd', debitAccountId: 'buyer.escrow', creditAccountId: 'fees' },
    ]);
    const free = { ...TERMS, sellerFee: 0n };
    expect(routeTransfers(payoutStep(position(free, { unpaidTokens: 10n, unpaidUsageIds: ['u1'] })).transfers, ACCOUNTS).map((t) => t.code)).toEqual(['delivery-payout']);
  });

  test('usage beyond the tokens bought is marked paid under a key of its own, and pays nothing', () => {
    const step = payoutStep(position(TERMS, { paidTokens: TERMS.quantity, unpaidTokens: 5n, unpaidUsageIds: ['late'] }));
    expect(step).toMatchObject({ key: `payout:d:${TERMS.quantity}:late`, tokens: 0n, usageIds: ['late'] });
    expect(isWorthRecording(step)).toBe(true);
    expect(routeTransfers(step.transfers, ACCOUNTS)).toEqual([]);
    expect(isWorthRecording(payoutStep(position(TERMS)))).toBe(false);
  });

  test('a close in breach refunds the escrow and pays the penalty from the bond; the rest of the bond goes back', () => {
    const step = closeStep(position(TERMS, { paidTokens: 600_000n }), 600_000n, true);
    expect(step.outcome).toBe('breach');
    expect(routeTransfers(step.transfers, ACCOUNTS).map((t) => [t.code, t.debitAccountId, t.creditAccountId, t.amount])).toEqual([
      ['delivery-refund', 'buyer.escrow', 'buyer.available', 200_000n],
      ['delivery-penalty', 'provider.bond', 'buyer.available', 20_000n],
      ['delivery-bond-release', 'provider.bond', 'provider.available', 30_000n],
    ]);
    expect(step.effect).toEqual({ paidTokens: 600_000n, refundedTokens: 0n, paid: 0n, fee: 0n, refunded: 200_000n, penalty: 20_000n, outcome: 'breach' });
  });

  test("a dispute resolved for the buyer refunds its tokens' escrow from the top of the axis and pays the penalty from the bond, under the dispute's key", () => {
    const step = disputeRefundStep(position(TERMS, { paidTokens: 200n }), 'x', 50n);
    expect(step).toMatchObject({ key: 'dispute:x', kind: 'dispute', tokens: 50n, amounts: { buyerRefund: 26n, penalty: 3n }, usageIds: [] });
    expect(routeTransfers(step.transfers, ACCOUNTS).map((t) => [t.id, t.debitAccountId, t.creditAccountId, t.amount])).toEqual([
      ['dispute:x:refund', 'buyer.escrow', 'buyer.available', 26n],
      ['dispute:x:penalty', 'provider.bond', 'buyer.available', 3n],
    ]);
    expect(step.effect).toEqual({ paidTokens: 200n, refundedTokens: 50n, paid: 0n, fee: 0n, refunded: 26n, penalty: 3n });
    // The close after it: its take-or-pay stops below the refunded tokens, and only the rest of the bond goes back.
    const close = closeStep(position(TERMS, { paidTokens: 200n, refunded: { tokens: 50n, penalty: 3n } }), 200n, false);
    expect(close.amounts).toMatchObject({ providerPayout: 499_475n - 99n, providerFee: 499n, bondReleased: 49_997n });
    // A payout never reaches them either.
    expect(payoutStep(position(TERMS, { refunded: { tokens: 50n, penalty: 3n }, unpaidTokens: 2_000_000n, unpaidUsageIds: ['u'] })).tokens).toBe(999_950n);
  });
});

/** A delivery's life: usage arrives and is paid in steps, and the window closes, with or without a breach. */
interface Life {
  readonly terms: DeliveryTerms;
  readonly disputed: bigint;
  readonly usage: readonly (readonly bigint[])[];
  /** After which usage batch the dispute is resolved (never, if past the last), and the provider's share of it in %. */
  readonly resolveAt: number;
  readonly providerShare: bigint;
  readonly breach: boolean;
}
const life = fc
  .record({
    quantity: fc.bigInt({ min: 1n, max: 10n ** 9n }),
    notional: fc.bigInt({ min: 0n, max: 10n ** 10n }),
    feeBps: fc.bigInt({ min: 0n, max: 1_000n }),
    bondBps: fc.bigInt({ min: 0n, max: 3_000n }),
    disputedShare: fc.bigInt({ min: 0n, max: 100n }),
    usage: fc.array(fc.array(fc.bigInt({ min: 1n, max: 10n ** 9n }), { maxLength: 3 }), { maxLength: 6 }),
    resolveAt: fc.nat({ max: 7 }),
    providerShare: fc.oneof(fc.constant(0n), fc.constant(100n), fc.bigInt({ min: 0n, max: 100n })),
    breach: fc.boolean(),
  })
  .map((l): Life => ({
    terms: { quantity: l.quantity, notional: l.notional, sellerFee: (l.notional * l.feeBps) / 10_000n, bond: (l.notional * l.bondBps) / 10_000n },
    disputed: l.disputedShare === 100n ? 0n : (l.quantity * l.disputedShare) / 200n,
    usage: l.usage,
    resolveAt: l.resolveAt,
    providerShare: l.providerShare,
    breach: l.breach,
  }));

/** Whether the life's dispute is resolved before its close (otherwise its tokens stay in escrow). */
const resolved = (l: Life) => l.disputed === 0n || l.resolveAt <= l.usage.length;

function run({ terms, disputed, usage, resolveAt, providerShare, breach }: Life): Step[] {
  let d = position(terms, { disputedTokens: disputed });
  const steps: Step[] = [];
  let n = 0;
  const apply = (s: Step) => {
    if (!isWorthRecording(s)) return;
    steps.push(s);
    d = {
      ...d,
      paidTokens: s.effect.paidTokens,
      refunded: { tokens: d.refunded.tokens + s.effect.refundedTokens, penalty: d.refunded.penalty + (s.kind === 'dispute' ? s.effect.penalty : 0n) },
      unpaidTokens: s.kind === 'payout' ? 0n : d.unpaidTokens,
      unpaidUsageIds: d.unpaidUsageIds.filter((u) => !s.usageIds.includes(u)),
    };
  };
  const resolve = () => {
    // As DisputesService does: release, the provider's share becomes usage, the buyer's is refunded.
    const toProvider = (disputed * providerShare) / 100n;
    d = { ...d, disputedTokens: 0n, unpaidTokens: d.unpaidTokens + toProvider, unpaidUsageIds: toProvider > 0n ? [...d.unpaidUsageIds, 'dispute:x'] : d.unpaidUsageIds };
    apply(disputeRefundStep(d, 'x', disputed - toProvider));
  };
  usage.forEach((batch, i) => {
    if (i === resolveAt && disputed > 0n) resolve();
    for (const tokens of batch) d = { ...d, unpaidTokens: d.unpaidTokens + tokens, unpaidUsageIds: [...d.unpaidUsageIds, `u${n++}`] };
    apply(payoutStep(d));
  });
  if (resolveAt === usage.length && disputed > 0n) {
    resolve();
    apply(payoutStep(d)); // the close pays the verified usage first
  }
  apply(closeStep(d, d.paidTokens, breach));
  return steps;
}

describe('a delivery settled in steps', () => {
  test('every movement is positive and between two different accounts; keys and transfer ids are unique', () => {
    fc.assert(
      fc.property(life, (l) => {
        const steps = run(l);
        const transfers = steps.flatMap((s) => routeTransfers(s.transfers, ACCOUNTS));
        for (const t of transfers) {
          expect(t.amount > 0n).toBe(true);
          expect(t.debitAccountId).not.toBe(t.creditAccountId);
        }
        expect(new Set(steps.map((s) => s.key)).size).toBe(steps.length);
        expect(new Set(transfers.map((t) => t.id)).size).toBe(transfers.length);
      }),
    );
  });

  test('escrow is spent exactly when nothing is disputed, never more; the bond is spent exactly; no money is made', () => {
    fc.assert(
      fc.property(life, (l) => {
        const net = new Map<string, bigint>();
        for (const t of run(l).flatMap((s) => routeTransfers(s.transfers, ACCOUNTS))) {
          net.set(t.debitAccountId, (net.get(t.debitAccountId) ?? 0n) - t.amount);
          net.set(t.creditAccountId, (net.get(t.creditAccountId) ?? 0n) + t.amount);
        }
        const escrowSpent = -(net.get('buyer.escrow') ?? 0n);
        if (resolved(l)) expect(escrowSpent).toBe(l.terms.notional);
        else expect(escrowSpent <= l.terms.notional).toBe(true);
        expect(-(net.get('provider.bond') ?? 0n)).toBe(l.terms.bond);
        expect([...net.values()].reduce((a, b) => a + b, 0n)).toBe(0n);
        for (const account of ['buyer.bond', 'provider.escrow']) expect(net.has(account)).toBe(false);
      }),
    );
  });

  test("a batch's totals add its steps' money up and end at the last step's point, within the tokens not disputed", () => {
    fc.assert(
      fc.property(life, (l) => {
        const steps = run(l);
        const [totals] = batchTotals(steps);
        expect(totals).toEqual({
          id: 'd',
          paidTokens: steps.at(-1)!.effect.paidTokens,
          refundedTokens: steps.reduce((a, s) => a + s.effect.refundedTokens, 0n),
          paid: steps.reduce((a, s) => a + s.effect.paid, 0n),
          fee: steps.reduce((a, s) => a + s.effect.fee, 0n),
          refunded: steps.reduce((a, s) => a + s.effect.refunded, 0n),
          penalty: steps.reduce((a, s) => a + s.effect.penalty, 0n),
          outcome: steps.at(-1)!.effect.outcome,
        });
        expect(totals.paidTokens + totals.refundedTokens <= l.terms.quantity - (resolved(l) ? 0n : l.disputed)).toBe(true);
        expect(totals.paid + totals.fee + totals.refunded <= l.terms.notional && totals.penalty <= l.terms.bond).toBe(true);
      }),
    );
  });
});
