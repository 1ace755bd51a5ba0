import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { DEFAULT_GRID, feeMicros as feeOf } from '../../markets/price.js';
import { buyHoldRequired, type FeeState, fill, type InstrumentMoney, NO_FILLS, notional, sellBond } from './order-money.js';

const DEFAULT: InstrumentMoney = { grid: DEFAULT_GRID, makerFeeBps: 0, takerFeeBps: 10, bondBps: 1000 };

describe('order money', () => {
  test('with the default tick and lot, notional in micro-USD is price ticks × lots', () => {
    // 0.450 USD/MTok for 2,000,000 tokens (2000 lots) = 0.90 USD = 900,000 micro-USD.
    expect(notional(DEFAULT, 450, 2000)).toBe(900_000n);
  });

  test('a buy holds its notional plus the fees it could pay', () => {
    expect(buyHoldRequired(DEFAULT, 450, 2000)).toBe(900_900n);
    expect(buyHoldRequired({ ...DEFAULT, makerFeeBps: 20 }, 450, 2000)).toBe(902_700n);
  });

  test('fees round up once per order and role, not once per fill', () => {
    // Three fills of 1 micro-USD notional at 10 bps: 1 micro in all (ceil of 0.003), not 3.
    let fees: FeeState = NO_FILLS;
    const charged: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const f = fill(DEFAULT, fees, 1, 1, 'taker');
      charged.push(f.fee);
      fees = f.after;
    }
    expect(charged).toEqual([1n, 0n, 0n]);
  });

  test('a spot sell holds a bond of 10 % of its notional', () => {
    expect(sellBond(DEFAULT, 450, 2000)).toBe(90_000n);
  });

  test('any sequence of fills at or below the limit is paid from the hold, and the rest is released exactly', () => {
    fc.assert(
      fc.property(
        fc.record({
          makerFeeBps: fc.integer({ min: 0, max: 1000 }),
          takerFeeBps: fc.integer({ min: 0, max: 1000 }),
          grid: fc.constantFrom(DEFAULT_GRID, { tickMicroUsdPerMTok: 1000, lotTokens: 1_000_000 }, { tickMicroUsdPerMTok: 10_000, lotTokens: 100 }),
        }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.record({ lots: fc.integer({ min: 1, max: 50 }), below: fc.nat(1000), role: fc.constantFrom('maker' as const, 'taker' as const) }), { maxLength: 30 }),
        (rates, limit, fills) => {
          const instrument = { ...DEFAULT, ...rates };
          let open = fills.reduce((sum, f) => sum + f.lots, 0) + 3;
          let hold = buyHoldRequired(instrument, limit, open);
          let fees: FeeState = NO_FILLS;
          let paid = 0n;
          let released = 0n;
          for (const f of fills) {
            const price = Math.max(1, limit - f.below);
            const done = fill(instrument, fees, price, f.lots, f.role);
            fees = done.after;
            open -= f.lots;
            hold -= done.notional + done.fee;
            paid += done.notional + done.fee;
            const required = buyHoldRequired(instrument, limit, open, fees);
            expect(hold).toBeGreaterThanOrEqual(required); // never short
            released += hold - required;
            hold = required;
          }
          released += hold; // the order closes: everything left goes back
          const totalFees = feeOf(fees.takerNotional, instrument.takerFeeBps) + feeOf(fees.makerNotional, instrument.makerFeeBps);
          expect(paid).toBe(fees.takerNotional + fees.makerNotional + totalFees);
          expect(paid + released).toBe(buyHoldRequired(instrument, limit, fills.reduce((s, f) => s + f.lots, 0) + 3));
        },
      ),
      { numRuns: 500 },
    );
  });
});
