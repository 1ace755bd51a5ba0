import type { ContractScenario } from './forward-scenario.js';

/*
 * No trade in the last hour before any mark: the mark falls back, in the rule's order, to the mid
 * of a two-sided book within the collar, then the previous mark; the spot index only for a first
 * mark that has neither. Default grid (notional = ticks × lots micro-USD), collar ±10 %.
 *
 * Mark 2027-05-26: acme bought 100 @ 2000 from gpu1 at 10:00 (not in the last hour). The book has a
 *   bid only (1990): no mid; no previous mark: the spot index 1950.
 *   acme (1950 − 2000) × 100 = −5,000 (from margin: 100,000 → 95,000); gpu1 +5,000 (→ 105,000).
 * Mark 2027-05-27: bid 1991, ask 2010, both within 2000 (last trade) ± 200 → mid 4,001 / 2 =
 *   2,000.5 → 2001 (half up); the index (1950) no longer counts.
 *   acme (2001 − 1950) × 100 = +5,100 (→ 100,100); gpu1 −5,100 (→ 99,900).
 * Mark 2027-05-28: bid 1990, ask 2250: the ask is beyond 2200, outside the collar → previous 2001.
 * Mark 2027-05-29: an ask (2010) but no bid → previous 2001. No variation on either day.
 */
export const scenario: ContractScenario = {
  kind: 'contract',
  description: 'marking days without trades: the spot index first, then the mid within the collar, then the previous mark',
  insurance: 0n,
  participants: {
    acme: { margin: 100_000n, available: 0n, bond: 0n },
    gpu1: { margin: 100_000n, available: 0n, bond: 0n },
  },
  days: [
    { day: '2027-05-26', trades: [{ buyerId: 'acme', sellerId: 'gpu1', priceTicks: 2000, lots: 100 }], bestBid: 1990, spotIndexTicks: 1950 },
    { day: '2027-05-27', trades: [], bestBid: 1991, bestAsk: 2010, spotIndexTicks: 1950 },
    { day: '2027-05-28', trades: [], bestBid: 1990, bestAsk: 2250, spotIndexTicks: 2300 },
    { day: '2027-05-29', trades: [], bestAsk: 2010, spotIndexTicks: 2300 },
  ],
  expected: {
    marks: [
      { priceTicks: 1950, source: 'index' },
      { priceTicks: 2001, source: 'mid' },
      { priceTicks: 2001, source: 'previous' },
      { priceTicks: 2001, source: 'previous' },
    ],
    variation: [{ acme: -5_000n, gpu1: 5_000n }, { acme: 5_100n, gpu1: -5_100n }, {}, {}],
    settlements: [
      {
        collections: [{ participantId: 'acme', source: 'margin', amount: 5_000n }],
        payments: [{ participantId: 'gpu1', amount: 5_000n }],
        cuts: [],
        defaults: [],
      },
    ],
    funds: {
      acme: { margin: 100_100n, available: 0n, bond: 0n, escrow: 0n },
      gpu1: { margin: 99_900n, available: 0n, bond: 0n, escrow: 0n },
    },
    insurance: 0n,
  },
};
