import { INTERIM_FORWARD_RULES } from '../product-rules.js';
import { buy, cancel, sell } from './harness.js';
import type { MoneyScenario } from './money-scenario.js';

/*
 * INTERIM_FORWARD_RULES, default money terms: maker 0 bps, taker 10 bps, bond 1000 bps.
 * Batch 1, bob sells 100 @ 200 (order 1): bond 20,000 × 10 % = 2,000.
 * Batch 2, alice buys 60 @ 200 (order 2): 12,000 + ceil(12) = 12 → 12,012; fills 60 @ 200 exactly:
 *   12,000 → escrow, 12 → fees, nothing to release. Bob's bond stays whole on the order (fill.bond 0).
 * Batch 3, bob cancels: keeps 2,000 − (40 @ 200 → 800) = 1,200 for the filled lots; releases 800.
 * alice: available 100,000 − 12,012 = 87,988; escrow 12,000. Fees 12.
 * bob: available 10,000 − 2,000 + 800 = 8,800; bond 1,200.
 */
export const scenario: MoneyScenario = {
  description: "a forward sell keeps its filled lots' bond on the order, even once cancelled",
  participants: { alice: 100_000n, bob: 10_000n },
  rules: INTERIM_FORWARD_RULES,
  capacity: new Map(),
  batches: [[sell('bob', 200, 100)], [buy('alice', 200, 60)], [cancel('bob', 1)]],
  expectedResults: [['ok'], ['ok'], ['ok']],
  expected: {
    balances: {
      alice: { available: 87_988n, held: 0n, escrow: 12_000n, bond: 0n },
      bob: { available: 8_800n, held: 0n, escrow: 0n, bond: 1_200n },
    },
    fees: 12n,
    fillBonds: [0n],
  },
};
