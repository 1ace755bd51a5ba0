import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { closeDelivery, type DeliveryTerms, payoutBetween } from './delivery-money.js';

const terms = fc
  .record({
    quantity: fc.bigInt({ min: 1n, max: 10n ** 12n }),
    notional: fc.bigInt({ min: 0n, max: 10n ** 13n }),
    feeBps: fc.bigInt({ min: 0n, max: 10_000n }),
    bondBps: fc.bigInt({ min: 0n, max: 10_000n }),
  })
  .map(
    ({ quantity, notional, feeBps, bondBps }): DeliveryTerms => ({
      quantity,
      notional,
      sellerFee: (notional * feeBps + 9_999n) / 10_000n > notional ? notional : (notional * feeBps + 9_999n) / 10_000n,
      bond: (notional * bondBps + 9_999n) / 10_000n,
    }),
  );

/** Terms and an increasing list of points on its axis, ending anywhere up to the quantity. */
const steps = terms.chain((t) =>
  fc
    .array(fc.bigInt({ min: 0n, max: t.quantity }), { maxLength: 12 })
    .map((points) => ({ t, points: [0n, ...points.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))] })),
);

describe('payouts along a delivery', () => {
  test('every step is non-negative, and any split into steps moves the same total as one step', () => {
    fc.assert(
      fc.property(steps, ({ t, points }) => {
        let net = 0n;
        let fee = 0n;
        for (let i = 1; i < points.length; i++) {
          const p = payoutBetween(t, points[i - 1], points[i]);
          expect(p.providerNet).toBeGreaterThanOrEqual(0n);
          expect(p.fee).toBeGreaterThanOrEqual(0n);
          net += p.providerNet;
          fee += p.fee;
        }
        const whole = payoutBetween(t, 0n, points[points.length - 1]);
        expect([net, fee]).toEqual([whole.providerNet, whole.fee]);
      }),
    );
  });

  test('a fully settled delivery pays out exactly its escrow: the notional less the fee, and the fee', () => {
    fc.assert(
      fc.property(terms, (t) => {
        const all = payoutBetween(t, 0n, t.quantity);
        expect(all.providerNet + all.fee).toBe(t.notional);
        expect(all.fee).toBe(t.sellerFee);
      }),
    );
  });

  test('paid money never exceeds the pro-rata notional of the tokens paid', () => {
    fc.assert(
      fc.property(steps, ({ t, points }) => {
        const x = points[points.length - 1];
        const p = payoutBetween(t, 0n, x);
        expect((p.providerNet + p.fee) * t.quantity).toBeLessThanOrEqual(t.notional * x);
      }),
    );
  });

  test('refuses steps off the axis', () => {
    const t = { quantity: 10n, notional: 100n, sellerFee: 1n, bond: 10n };
    expect(() => payoutBetween(t, 5n, 4n)).toThrow(RangeError);
    expect(() => payoutBetween(t, 0n, 11n)).toThrow(RangeError);
  });
});

describe('closing a window', () => {
  const closing = terms.chain((t) =>
    fc.record({
      t: fc.constant(t),
      paid: fc.bigInt({ min: 0n, max: t.quantity }),
      disputedShare: fc.bigInt({ min: 0n, max: 100n }),
      breach: fc.boolean(),
      penaltyBps: fc.bigInt({ min: 0n, max: 20_000n }),
    }),
  );

  test('escrow is conserved: paid before, paid or refunded at close, and the disputed part stays', () => {
    fc.assert(
      fc.property(closing, ({ t, paid, disputedShare, breach, penaltyBps }) => {
        const disputed = ((t.quantity - paid) * disputedShare) / 100n;
        const before = payoutBetween(t, 0n, paid);
        const close = closeDelivery(t, paid, disputed, breach, penaltyBps);
        const disputedEscrow = payoutBetween(t, t.quantity - disputed, t.quantity);
        const out = before.providerNet + before.fee + close.payout.providerNet + close.payout.fee + close.refund;
        expect(out + disputedEscrow.providerNet + disputedEscrow.fee).toBe(t.notional);
        // The bond is split between penalty and release, never more.
        expect(close.penalty + close.bondReleased).toBe(t.bond);
        expect(close.penalty).toBeGreaterThanOrEqual(0n);
        expect(close.undeliveredTokens).toBe(t.quantity - disputed - paid);
        if (close.undeliveredTokens === 0n) expect(close.outcome).toBe('delivered');
        else expect(close.outcome).toBe(breach ? 'breach' : 'take_or_pay');
        if (close.outcome !== 'breach') expect([close.refund, close.penalty]).toEqual([0n, 0n]);
      }),
    );
  });

  test('a breach refunds the undelivered escrow and takes 10 % of it from the bond, rounded up', () => {
    // 1,000,000 tokens at 0.500 USD/MTok: 500,000 micro-USD; fee 500; bond 50,000. 400,000 delivered.
    const t = { quantity: 1_000_000n, notional: 500_000n, sellerFee: 500n, bond: 50_000n };
    const close = closeDelivery(t, 400_000n, 0n, true);
    expect(close).toEqual({
      outcome: 'breach',
      undeliveredTokens: 600_000n,
      payout: { tokens: 0n, providerNet: 0n, fee: 0n },
      refund: 300_000n,
      penalty: 30_000n,
      bondReleased: 20_000n,
    });
    expect(closeDelivery({ ...t, bond: 7n }, 0n, 0n, true).penalty).toBe(7n); // never beyond the bond
    expect(closeDelivery(t, 1_000_000n, 0n, true).outcome).toBe('delivered');
  });
});
