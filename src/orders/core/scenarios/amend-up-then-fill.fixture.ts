import { amend, buy, sell } from './harness.js';
import type { MoneyScenario } from './money-scenario.js';

/*
 * Default terms: maker 0 bps, taker 10 bps, bond 1000 bps.
 * Batch 1, alice buys 10 @ 100 (order 1): 1,000 + ceil(1,000 × 10 / 10,000) = 1 → holds 1,001.
 * Batch 2, alice amends order 1 to 20 @ 120: 2,400 + ceil(2.4) = 3 → 2,403; takes 1,402 more.
 * Batch 3, bob sells 20 @ 110 (order 2): bond 110 × 20 = 2,200 × 10 % = 220.
 *   Fills 20 @ 120 (alice, maker): 2,400 → escrow, maker fee 0, rest of alice's hold released: 3.
 *   The 220 bond follows the fill.
 * alice: available 10,000 − 1,001 − 1,402 + 3 = 7,600; escrow 2,400.
 * bob: available 1,000 − 220 = 780; bond 220. Fees 0.
 */
export const scenario: MoneyScenario = {
  description: 'a buy amended up in price and size, then filled in full as maker',
  participants: { alice: 10_000n, bob: 1_000n },
  batches: [[buy('alice', 100, 10)], [amend('alice', 1, { priceTicks: 120, lots: 20 })], [sell('bob', 110, 20)]],
  expectedResults: [['ok'], ['ok'], ['ok']],
  expected: {
    balances: {
      alice: { available: 7_600n, held: 0n, escrow: 2_400n, bond: 0n },
      bob: { available: 780n, held: 0n, escrow: 0n, bond: 220n },
    },
    fees: 0n,
    fillBonds: [220n],
  },
};
