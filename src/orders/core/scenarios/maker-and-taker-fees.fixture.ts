import { buy, sell } from './harness.js';
import type { MoneyScenario } from './money-scenario.js';

/*
 * Terms: maker 20 bps, taker 30 bps, bond 1000 bps.
 * Batch 1, alice buys 1,000 @ 333 (order 1): 333,000 + taker ceil(999) = 999 + maker ceil(666) = 666 → 334,665.
 * Batch 2, bob sells 400 @ 330 (order 2): bond 132,000 × 10 % = 13,200.
 *   Fills 400 @ 333, alice maker: notional 133,200; fee ceil(133,200 × 20 / 10,000) = ceil(266.4) = 267.
 *   Alice's open 600 @ 333 = 199,800; taker more ceil(599.4) = 600; maker more ceil(666) − 267 = 399 → 200,799.
 *   Release 334,665 − 133,200 − 267 − 200,799 = 399. Bob's 13,200 follows the fill.
 * Batch 3, bob sells 500 @ 340 (order 3, rests): bond 170,000 × 10 % = 17,000.
 *   alice buys 300 @ 345 (order 4): 103,500 + taker ceil(310.5) = 311 + maker ceil(207) = 207 → 104,018.
 *   Fills 300 @ 340, alice taker: 102,000 + fee ceil(306) = 306; release 104,018 − 102,306 = 1,712.
 *   Bob's order 3 keeps 200 @ 340 → 6,800; 17,000 − 6,800 = 10,200 follows the fill.
 * alice: available 1,000,000 − 334,665 + 399 − 104,018 + 1,712 = 563,428; held 200,799;
 *   escrow 133,200 + 102,000 = 235,200. Fees 267 + 306 = 573 (sum with alice's = 1,000,000).
 * bob: available 100,000 − 13,200 − 17,000 = 69,800; bond 13,200 + 17,000 = 30,200.
 */
export const scenario: MoneyScenario = {
  description: 'a buyer pays a rounded-up maker fee on one fill and a taker fee on another',
  participants: { alice: 1_000_000n, bob: 100_000n },
  terms: { makerFeeBps: 20, takerFeeBps: 30 },
  batches: [[buy('alice', 333, 1000)], [sell('bob', 330, 400)], [sell('bob', 340, 500), buy('alice', 345, 300)]],
  expectedResults: [['ok'], ['ok'], ['ok', 'ok']],
  expected: {
    balances: {
      alice: { available: 563_428n, held: 200_799n, escrow: 235_200n, bond: 0n },
      bob: { available: 69_800n, held: 0n, escrow: 0n, bond: 30_200n },
    },
    fees: 573n,
    fillBonds: [13_200n, 10_200n],
  },
};
