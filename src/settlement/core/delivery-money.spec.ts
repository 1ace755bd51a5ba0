import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { closeDelivery, DEFAULT_PENALTY_BPS, type DeliveryTerms, NOTHING_REFUNDED, payoutBetween, type Refunded, refundDisputed } from './delivery-money.js';

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

/**
 * A delivery's whole life, in any order: usage verified and paid in steps, disputes opened and
 * resolved in any proportions (the provider's share becomes usage, the buyer's is refunded), then
 * the close, with or without a breach, once no dispute is open (as the worker closes).
 */
type Event =
  | { readonly kind: 'usage'; readonly tokens: bigint }
  | { readonly kind: 'payout' }
  | { readonly kind: 'dispute'; readonly share: bigint }
  | { readonly kind: 'resolve'; readonly pick: number; readonly providerShare: bigint };

const event: fc.Arbitrary<Event> = fc.oneof(
  fc.record({ kind: fc.constant('usage' as const), tokens: fc.bigInt({ min: 1n, max: 10n ** 12n }) }),
  fc.record({ kind: fc.constant('payout' as const) }),
  fc.record({ kind: fc.constant('dispute' as const), share: fc.bigInt({ min: 0n, max: 100n }) }),
  // Shares of 0 and 100 are common: resolutions all for the buyer or all for the provider.
  fc.record({ kind: fc.constant('resolve' as const), pick: fc.nat(), providerShare: fc.oneof(fc.constant(0n), fc.constant(100n), fc.bigInt({ min: 0n, max: 100n })) }),
);

const lives = fc.record({ t: terms, events: fc.array(event, { maxLength: 30 }), lastShares: fc.array(fc.bigInt({ min: 0n, max: 100n }), { minLength: 1, maxLength: 4 }), breach: fc.boolean() });

/** A stretch of the axis and where its escrow went. */
interface Stretch {
  readonly from: bigint;
  readonly to: bigint;
  readonly to_: 'paid' | 'refunded';
}

function live({ t, events, lastShares, breach }: { t: DeliveryTerms; events: readonly Event[]; lastShares: readonly bigint[]; breach: boolean }) {
  let paid = 0n;
  let unpaid = 0n;
  let disputed = 0n;
  let refunded: Refunded = NOTHING_REFUNDED;
  const open: bigint[] = [];
  const money = { providerNet: 0n, fee: 0n, refund: 0n, penalty: 0n };
  const stretches: Stretch[] = [];
  const check = () => {
    // Never more than the escrow, never more than the bond, at any point of the life.
    expect(money.providerNet + money.fee + money.refund <= t.notional).toBe(true);
    expect(refunded.penalty <= money.penalty && money.penalty <= t.bond).toBe(true);
    expect(paid + disputed + refunded.tokens <= t.quantity).toBe(true);
  };
  const payOut = () => {
    const ceiling = t.quantity - refunded.tokens - disputed;
    const to = paid + unpaid < ceiling ? paid + unpaid : ceiling; // usage beyond what is left is not paid
    const p = payoutBetween(t, paid, to);
    if (p.tokens > 0n) stretches.push({ from: paid, to, to_: 'paid' });
    money.providerNet += p.providerNet;
    money.fee += p.fee;
    [paid, unpaid] = [to, 0n];
  };
  const resolve = (i: number, providerShare: bigint) => {
    const [tokens] = open.splice(i, 1);
    const toProvider = (tokens * providerShare) / 100n;
    disputed -= tokens;
    unpaid += toProvider; // verified usage, paid at the next payout
    const r = refundDisputed(t, paid, disputed, refunded, tokens - toProvider);
    expect(r.to - r.from).toBe(tokens - toProvider);
    expect(r.penalty).toBe(minOf((r.refund * DEFAULT_PENALTY_BPS + 9_999n) / 10_000n, t.bond - refunded.penalty));
    if (r.to > r.from) stretches.push({ from: r.from, to: r.to, to_: 'refunded' });
    money.refund += r.refund;
    money.penalty += r.penalty;
    refunded = { tokens: refunded.tokens + (tokens - toProvider), penalty: refunded.penalty + r.penalty };
  };
  for (const e of events) {
    if (e.kind === 'usage') unpaid += e.tokens;
    else if (e.kind === 'payout') payOut();
    else if (e.kind === 'dispute') {
      // Room as metering opens disputes: what is neither paid, disputed, refunded nor verified.
      const room = t.quantity - paid - disputed - refunded.tokens - unpaid;
      const tokens = room > 0n ? (room * e.share) / 100n : 0n;
      open.push(tokens);
      disputed += tokens;
    } else if (open.length > 0) resolve(e.pick % open.length, e.providerShare);
    check();
  }
  // The close waits for every dispute, then pays the verified usage left, then settles the rest.
  for (let i = 0; open.length > 0; i++) resolve(0, lastShares[i % lastShares.length]);
  payOut();
  const close = closeDelivery(t, paid, 0n, breach, DEFAULT_PENALTY_BPS, refunded);
  if (close.outcome === 'take_or_pay') stretches.push({ from: paid, to: t.quantity - refunded.tokens, to_: 'paid' });
  if (close.outcome === 'breach') stretches.push({ from: paid, to: t.quantity - refunded.tokens, to_: 'refunded' });
  money.providerNet += close.payout.providerNet;
  money.fee += close.payout.fee;
  money.refund += close.refund;
  money.penalty += close.penalty;
  check();
  return { money, close, stretches, refunded };
}

const minOf = (a: bigint, b: bigint) => (a < b ? a : b);

describe('a delivery with disputes resolved for the buyer', () => {
  test('every micro-dollar of the escrow is paid to the provider, charged as fee or refunded, exactly once', () => {
    fc.assert(
      fc.property(lives, (l) => {
        const { money } = live(l);
        expect(money.providerNet + money.fee + money.refund).toBe(l.t.notional);
      }),
      { numRuns: 300 },
    );
  });

  test('the bond is never overdrawn: the penalties and the release add up to it exactly', () => {
    fc.assert(
      fc.property(lives, (l) => {
        const { money, close } = live(l);
        expect(close.bondReleased >= 0n && close.penalty >= 0n).toBe(true);
        expect(money.penalty + close.bondReleased).toBe(l.t.bond);
      }),
      { numRuns: 300 },
    );
  });

  test('no token is both paid and refunded: the stretches tile the axis, and fees are charged on paid ones only', () => {
    fc.assert(
      fc.property(lives, (l) => {
        const { money, stretches } = live(l);
        const sorted = [...stretches].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
        let at = 0n;
        for (const s of sorted) {
          expect(s.from).toBe(at); // no gap, no overlap
          expect(s.to > s.from).toBe(true);
          at = s.to;
        }
        expect(at).toBe(l.t.quantity);
        // The money of each stretch went where the stretch says, and only there.
        const of = (kind: Stretch['to_']) => stretches.filter((s) => s.to_ === kind).map((s) => payoutBetween(l.t, s.from, s.to));
        expect(money.providerNet).toBe(of('paid').reduce((a, p) => a + p.providerNet, 0n));
        expect(money.fee).toBe(of('paid').reduce((a, p) => a + p.fee, 0n));
        expect(money.refund).toBe(of('refunded').reduce((a, p) => a + p.providerNet + p.fee, 0n));
      }),
      { numRuns: 300 },
    );
  });

  test('1,000,000 tokens at 0.500 USD/MTok: 50 resolved for the buyer are refunded 26 micro-USD with a penalty of 3, and never paid', () => {
    const t = { quantity: 1_000_000n, notional: 500_000n, sellerFee: 500n, bond: 50_000n };
    // 200 tokens paid, 50 were disputed and are released: they leave the top, 999,950 to 1,000,000.
    // Escrow: (499,500 − floor(499,500 × 999,950 / 10^6)) + (500 − floor(500 × 999,950 / 10^6)) = 25 + 1.
    const r = refundDisputed(t, 200n, 0n, NOTHING_REFUNDED, 50n);
    expect(r).toEqual({ from: 999_950n, to: 1_000_000n, refund: 26n, penalty: 3n }); // 10 % of 26, rounded up
    // A split of another dispute: 20 to the provider, 30 refunded just below: 15 + 0 (the fee rounds the same), penalty 2.
    const split = refundDisputed(t, 200n, 0n, { tokens: 50n, penalty: 3n }, 30n);
    expect(split).toEqual({ from: 999_920n, to: 999_950n, refund: 15n, penalty: 2n });
    // The close without breach pays the provider up to 999,920 only; the bond less the penalties goes back.
    const close = closeDelivery(t, 200n, 0n, false, DEFAULT_PENALTY_BPS, { tokens: 80n, penalty: 5n });
    expect(close.payout).toEqual({ tokens: 999_720n, providerNet: 499_460n - 99n, fee: 499n - 0n });
    expect(close.bondReleased).toBe(49_995n);
    // In breach, the close's penalty comes from what is left of the bond.
    expect(closeDelivery({ ...t, bond: 10n }, 200n, 0n, true, DEFAULT_PENALTY_BPS, { tokens: 80n, penalty: 5n })).toMatchObject({ penalty: 5n, bondReleased: 0n });
  });

  test('refuses tokens that are not left on the axis, and penalties beyond the bond', () => {
    const t = { quantity: 10n, notional: 100n, sellerFee: 1n, bond: 10n };
    expect(() => refundDisputed(t, 6n, 2n, { tokens: 1n, penalty: 0n }, 2n)).toThrow(RangeError);
    expect(() => refundDisputed(t, 0n, 0n, { tokens: 0n, penalty: 11n }, 1n)).toThrow(RangeError);
    expect(() => closeDelivery(t, 9n, 0n, false, DEFAULT_PENALTY_BPS, { tokens: 2n, penalty: 0n })).toThrow(RangeError);
  });
});
