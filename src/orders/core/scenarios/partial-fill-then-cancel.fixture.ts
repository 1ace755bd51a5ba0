import { buy, cancel, sell } from './harness.js';
import type { MoneyScenario } from './money-scenario.js';

/*
 * Default terms: maker 0 bps, taker 10 bps, bond 1000 bps; notional = ticks × lots.
 * Batch 1, alice buys 100 @ 500 (order 1): 50,000 + ceil(50,000 × 10 / 10,000) = 50 (+ maker 0) → holds 50,050.
 * Batch 2, bob sells 40 @ 480 (order 2): bond at his limit 480 × 40 = 19,200 × 10 % = 1,920.
 *   Fills 40 @ 500 (alice's, maker): notional 20,000 held → escrow; alice's maker fee 0.
 *   Alice's open 60 @ 500: 30,000 + taker 30 + maker 0 = 30,030; release 50,050 − 20,000 − 30,030 = 20.
 *   Bob's 1,920 leaves the filled order with the fill (bond account keeps it); his seller fee is not charged yet.
 * Batch 3, alice cancels order 1: releases 30,030.
 * alice: available 1,000,000 − 50,050 + 20 + 30,030 = 980,000; escrow 20,000.
 * bob: available 100,000 − 1,920 = 98,080; bond 1,920. Fees 0.
 */
export const scenario: MoneyScenario = {
  description: 'a resting buy partly filled by a sell, then cancelled',
  participants: { alice: 1_000_000n, bob: 100_000n },
  batches: [[buy('alice', 500, 100)], [sell('bob', 480, 40)], [cancel('alice', 1)]],
  expectedResults: [['ok'], ['ok'], ['ok']],
  expected: {
    balances: {
      alice: { available: 980_000n, held: 0n, escrow: 20_000n, bond: 0n },
      bob: { available: 98_080n, held: 0n, escrow: 0n, bond: 1_920n },
    },
    fees: 0n,
    fillBonds: [1_920n],
  },
};
