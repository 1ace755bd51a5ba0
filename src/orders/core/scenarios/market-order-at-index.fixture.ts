import { marketOrder, sell } from './harness.js';
import type { MoneyScenario } from './money-scenario.js';

/*
 * Default terms: maker 0 bps, taker 10 bps, bond 1000 bps, collar 1000 bps; spot index 400 ticks.
 * Batch 1, bob sells 100 @ 420 (order 1): bond 42,000 × 10 % = 4,200.
 * Batch 2, alice market-buys 150 (order 2): the book takes the index 400 as reference; collar 440.
 *   Held at 440 × 150 = 66,000 + ceil(66) = 66 → 66,066.
 *   Fills 100 @ 420: 42,000 + fee 42; open 50 @ 440 = 22,000 + (ceil(64) − 42 = 22) → 22,022;
 *   release 66,066 − 42,042 − 22,022 = 2. The unfilled 50 are cancelled: release 22,022.
 * alice: available 100,000 − 42,042 = 57,958; escrow 42,000. Fees 42.
 * bob: available 10,000 − 4,200 = 5,800; bond 4,200.
 */
export const scenario: MoneyScenario = {
  description: 'a market buy on a never-traded book is held at the collar around the spot index',
  participants: { alice: 100_000n, bob: 10_000n },
  indexPriceTicks: 400,
  batches: [[sell('bob', 420, 100)], [marketOrder('alice', 'buy', 150)]],
  expectedResults: [['ok'], ['ok']],
  expected: {
    balances: {
      alice: { available: 57_958n, held: 0n, escrow: 42_000n, bond: 0n },
      bob: { available: 5_800n, held: 0n, escrow: 0n, bond: 4_200n },
    },
    fees: 42n,
    fillBonds: [4_200n],
  },
};
