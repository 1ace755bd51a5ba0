import { buy, cancel, sell } from './harness.js';
import type { MoneyScenario } from './money-scenario.js';

/*
 * Default terms: maker 0 bps, taker 10 bps, bond 1000 bps.
 * Batch 1, bob sells 1,000 @ 250 (order 1): bond 250,000 × 10 % = 25,000.
 * Batch 2, alice buys 300 @ 260 (order 2): 78,000 + ceil(78) = 78 → 78,078.
 *   Fills 300 @ 250: 75,000 → escrow, taker fee ceil(75) = 75; release 78,078 − 75,075 = 3,003.
 *   Bob's order keeps 700 @ 250 → 17,500; 25,000 − 17,500 = 7,500 follows the fill.
 * Batch 3, bob cancels order 1: releases 17,500; the fill's 7,500 stays on his bond account.
 * alice: available 100,000 − 75,075 = 24,925; escrow 75,000. Fees 75.
 * bob: available 50,000 − 25,000 + 17,500 = 42,500; bond 7,500.
 */
export const scenario: MoneyScenario = {
  description: "a partly filled sell is cancelled: only the open lots' bond comes back",
  participants: { alice: 100_000n, bob: 50_000n },
  batches: [[sell('bob', 250, 1000)], [buy('alice', 260, 300)], [cancel('bob', 1)]],
  expectedResults: [['ok'], ['ok'], ['ok']],
  expected: {
    balances: {
      alice: { available: 24_925n, held: 0n, escrow: 75_000n, bond: 0n },
      bob: { available: 42_500n, held: 0n, escrow: 0n, bond: 7_500n },
    },
    fees: 75n,
    fillBonds: [7_500n],
  },
};
