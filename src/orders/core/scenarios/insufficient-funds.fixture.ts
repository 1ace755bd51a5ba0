import { buy, sell } from './harness.js';
import type { MoneyScenario } from './money-scenario.js';

/*
 * Default terms: maker 0 bps, taker 10 bps, bond 1000 bps.
 * Batch 1: alice (50,000) buys 50 @ 1,000: 50,000 + ceil(50) = 50,050 > 50,000 → INSUFFICIENT_FUNDS.
 *   alice buys 49 @ 1,000: 49,000 + 49 = 49,049 → held; 951 left.
 *   bob (0) sells 10 @ 100: bond 1,000 × 10 % = 100 > 0 → INSUFFICIENT_FUNDS.
 * Batch 2: alice buys 1 @ 951: 951 + ceil(0.0951 × 10) = 1 → 952 > 951 → refused.
 *   alice buys 1 @ 950: 950 + 1 = 951 → held; 0 left.
 * alice: available 0, held 49,049 + 951 = 50,000. bob untouched. Fees 0.
 */
export const scenario: MoneyScenario = {
  description: 'places that their cash cannot cover are refused to the last micro-USD',
  participants: { alice: 50_000n, bob: 0n },
  batches: [
    [buy('alice', 1000, 50), buy('alice', 1000, 49), sell('bob', 100, 10)],
    [buy('alice', 951, 1), buy('alice', 950, 1)],
  ],
  expectedResults: [
    ['INSUFFICIENT_FUNDS', 'ok', 'INSUFFICIENT_FUNDS'],
    ['INSUFFICIENT_FUNDS', 'ok'],
  ],
  expected: {
    balances: {
      alice: { available: 0n, held: 50_000n, escrow: 0n, bond: 0n },
      bob: { available: 0n, held: 0n, escrow: 0n, bond: 0n },
    },
    fees: 0n,
  },
};
