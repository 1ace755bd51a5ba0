import { MARK_DAYS, PARTICIPANTS } from './default-to-insurance.fixture.js';
import type { ContractScenario } from './forward-scenario.js';

/*
 * The same default as default-to-insurance (gpu1 owes 1,000,000 and its own funds pay 750,000),
 * but the insurance fund holds only 100,001: it pays that, and 149,999 is still missing.
 * Collected 850,001 against 1,000,000 owed to the winners: the shortfall 149,999 is cut pro rata.
 *   acme 149,999 × 600,000 / 1,000,000 = 89,999.4 → 89,999; beta 149,999 × 400,000 / 1,000,000 =
 *   59,999.6 → 59,999; 149,998 cut, the last micro-dollar to the largest remainder (beta, .6): 60,000.
 *   Paid: acme 600,000 − 89,999 = 510,001; beta 400,000 − 60,000 = 340,000; 850,001 = collected.
 * acme margin 120,000 + 510,001 = 630,001; beta 80,000 + 340,000 = 420,000; insurance 0.
 */
export const scenario: ContractScenario = {
  kind: 'contract',
  description: 'a default the insurance fund cannot cover either: the winners are cut pro rata, to the micro-dollar',
  insurance: 100_001n,
  participants: PARTICIPANTS,
  days: MARK_DAYS,
  expected: {
    marks: [
      { priceTicks: 2000, source: 'trades' },
      { priceTicks: 3000, source: 'trades' },
    ],
    variation: [{}, { acme: 600_000n, beta: 400_000n, gpu1: -1_000_000n }],
    settlements: [
      undefined,
      {
        collections: [
          { participantId: 'gpu1', source: 'margin', amount: 400_000n },
          { participantId: 'gpu1', source: 'available', amount: 150_000n },
          { participantId: 'gpu1', source: 'bond', amount: 200_000n },
          { participantId: 'gpu1', source: 'insurance', amount: 100_001n },
        ],
        payments: [
          { participantId: 'acme', amount: 510_001n },
          { participantId: 'beta', amount: 340_000n },
        ],
        cuts: [
          { participantId: 'acme', amount: 89_999n },
          { participantId: 'beta', amount: 60_000n },
        ],
        defaults: [{ participantId: 'gpu1', unpaid: 250_000n }],
      },
    ],
    funds: {
      acme: { margin: 630_001n, available: 0n, bond: 0n, escrow: 0n },
      beta: { margin: 420_000n, available: 0n, bond: 0n, escrow: 0n },
      gpu1: { margin: 0n, available: 0n, bond: 0n, escrow: 0n },
    },
    insurance: 0n,
  },
};
