import type { ContractScenario, MarkDay } from './forward-scenario.js';

/*
 * A provider short 1,000 lots at 2.000 USD/MTok (default grid: notional = ticks × lots micro-USD)
 * cannot cover a jump to 3.000: its margin, cash and bond fall short and the insurance fund pays.
 *
 * Mark 2027-05-29: acme buys 600 and beta 400 @ 2000 from gpu1, in the last hour → mark 2000:
 *   every trade is at the mark, so no variation.
 * Mark 2027-05-30: last hour: acme buys 1 @ 3000 from beta (beta reduces) → mark 3000.
 *   Held at the last mark: acme 600, beta 400, gpu1 −1,000; move 1,000 ticks.
 *   acme 1,000 × 600 + 0 × 1 = +600,000; beta 1,000 × 400 + 0 × −1 = +400,000; gpu1 −1,000,000.
 * Waterfall for gpu1's 1,000,000: margin 400,000, available 150,000, bond 200,000 = 750,000;
 *   unpaid 250,000, paid by the insurance fund (1,000,000 → 750,000). Winners paid in full:
 *   acme margin 120,000 + 600,000 = 720,000; beta 80,000 + 400,000 = 480,000.
 */
export const MARK_DAYS: readonly MarkDay[] = [
  {
    day: '2027-05-29',
    trades: [
      { buyerId: 'acme', sellerId: 'gpu1', priceTicks: 2000, lots: 600, lastHour: true },
      { buyerId: 'beta', sellerId: 'gpu1', priceTicks: 2000, lots: 400, lastHour: true },
    ],
  },
  { day: '2027-05-30', trades: [{ buyerId: 'acme', sellerId: 'beta', priceTicks: 3000, lots: 1, lastHour: true }] },
];

export const PARTICIPANTS = {
  acme: { margin: 120_000n, available: 0n, bond: 0n },
  beta: { margin: 80_000n, available: 0n, bond: 0n },
  gpu1: { margin: 400_000n, available: 150_000n, bond: 200_000n },
};

export const scenario: ContractScenario = {
  kind: 'contract',
  description: 'a short whose margin, cash and bond cannot cover a loss defaults to the insurance fund; winners are paid in full',
  insurance: 1_000_000n,
  participants: PARTICIPANTS,
  days: MARK_DAYS,
  expected: {
    marks: [
      { priceTicks: 2000, source: 'trades' },
      { priceTicks: 3000, source: 'trades' },
    ],
    variation: [{}, { acme: 600_000n, beta: 400_000n, gpu1: -1_000_000n }],
    settlements: [
      { collections: [], payments: [], cuts: [], defaults: [] },
      {
        collections: [
          { participantId: 'gpu1', source: 'margin', amount: 400_000n },
          { participantId: 'gpu1', source: 'available', amount: 150_000n },
          { participantId: 'gpu1', source: 'bond', amount: 200_000n },
          { participantId: 'gpu1', source: 'insurance', amount: 250_000n },
        ],
        payments: [
          { participantId: 'acme', amount: 600_000n },
          { participantId: 'beta', amount: 400_000n },
        ],
        cuts: [],
        defaults: [{ participantId: 'gpu1', unpaid: 250_000n }],
      },
    ],
    funds: {
      acme: { margin: 720_000n, available: 0n, bond: 0n, escrow: 0n },
      beta: { margin: 480_000n, available: 0n, bond: 0n, escrow: 0n },
      gpu1: { margin: 0n, available: 0n, bond: 0n, escrow: 0n },
    },
    insurance: 750_000n,
  },
};
