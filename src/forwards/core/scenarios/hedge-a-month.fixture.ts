import { days, type ContractScenario } from './forward-scenario.js';

/*
 * LLAMA-2027-06: June 2027, 30 days; last trade 2027-05-31 00:00 UTC. Default grid: 1 tick = 0.001
 * USD/MTok, 1 lot = 1,000 tokens, so notional = ticks × lots micro-USD (2,000 ticks = 2.000 USD/MTok).
 * acme hedges its June usage: 30,000 lots (30 M tokens) at 2.000, from gpu1 (20,000) and gpu2
 * (10,000), margined at 20 % (12,000,000). beta, a small buyer, sets the marks in the last hours.
 *
 * Mark 05-29: last hour: beta 2 @ 2050 → mark 2050 (trades). First mark: each trade to the mark.
 *   acme (2050 − 2000) × 30,000 = +1,500,000; gpu1 50 × −20,000 = −1,000,000;
 *   gpu2 50 × −10,000 + 0 × −2 = −500,000; beta 0 × 2 = 0. Sum 0.
 *   Losers pay from margin: gpu1 8,000,000 → 7,000,000; gpu2 4,100,000 → 3,600,000. acme 12,000,000 → 13,500,000.
 * Mark 05-30: last hour: beta 3 @ 2095, 2 @ 2108 → (6,285 + 4,216) / 5 = 2,100.2 → 2100 (half up: down).
 *   Held at the last mark: acme 30,000, gpu1 −20,000, gpu2 −10,002, beta 2; move 2100 − 2050 = 50.
 *   acme +1,500,000; gpu1 −1,000,000; gpu2 −500,100 + (5 × −3) + (−8 × −2) = −500,099;
 *   beta 100 + (5 × 3) + (−8 × 2) = 99. Sum 0.
 *   gpu1 7,000,000 → 6,000,000; gpu2 3,600,000 → 3,099,901; acme → 15,000,000; beta 2,940 → 3,039.
 * Mark 05-31 (final, at expiry): beta 1 @ 2199, 1 @ 2200 → 2,199.5 → 2200 (half up: up).
 *   Held: acme 30,000, gpu1 −20,000, gpu2 −10,007, beta 7; move 100.
 *   acme +3,000,000; gpu1 −2,000,000; gpu2 −1,000,700 + (1 × −1) = −1,000,701; beta 700 + 1 = 701.
 *   gpu1 6,000,000 → 4,000,000; gpu2 3,099,901 → 2,099,200; acme → 18,000,000; beta → 3,740.
 *   acme was paid 6,000,000 of variation: the price rose 200 ticks on 30,000 lots.
 *
 * Expiry at 2200: each long escrows 2,200 per lot, margin first.
 *   acme 30,000 × 2,200 = 66,000,000: margin 18,000,000 + 48,000,000 of 50,000,000 available.
 *     acme has paid 12,000,000 + 48,000,000 = 60,000,000 = 30,000 × 2,000: the hedged price.
 *   beta 9 lots need 19,800; it has 3,740 + 5,000 = 8,740 → floor(8,740 / 2,200) = 3 lots (6,600):
 *     margin 3,740 + 2,860 available. beta is cut to 3 lots.
 * Allocation: longs acme 30,000 (seq 1), beta 3 (seq 3): 30,003; shorts gpu1 20,000 (seq 1),
 *   gpu2 10,009 (seq 2): 30,009. Shorts give 30,003 pro rata: gpu1 30,003 × 20,000 / 30,009 =
 *   19,996.001 → 19,996; gpu2 30,003 × 10,009 / 30,009 = 10,006.999 → 10,006; the 30,003rd from the
 *   oldest, gpu1 (not gpu2's larger fraction): 19,997 and 10,006; 3 lots of each stay unallocated.
 *   gpu1 first, over needs 30,000 : 3: acme 19,997 × 30,000 / 30,003 = 19,995.0005 → 19,995,
 *   beta 19,997 × 3 / 30,003 = 1.9995 → 1; the 19,997th to acme (oldest): 19,996 and 1.
 *   gpu2 then meets what is left exactly: acme 10,004, beta 2.
 * Daily schedules over 30 days: 19,996 = 30 × 666 + 16 → 16 days of 667, 14 of 666;
 *   10,004 = 30 × 333 + 14 → 14 days of 334, 16 of 333; 1 → day 1; 2 → days 1 and 2.
 * Money: before 62,000,000 + 14,000,000 + 9,600,000 + 7,940 (+ insurance); after
 *   68,000,000 + 10,000,000 + 7,599,200 + 8,740: the same 85,607,940.
 */
export const scenario: ContractScenario = {
  kind: 'contract',
  description: 'a buyer hedges a month, is paid variation as the price rises over three marks, and takes delivery at the final mark',
  insurance: 10_000_000n,
  participants: {
    acme: { margin: 12_000_000n, available: 50_000_000n, bond: 0n },
    beta: { margin: 2_940n, available: 5_000n, bond: 0n },
    gpu1: { margin: 8_000_000n, available: 5_000_000n, bond: 1_000_000n },
    gpu2: { margin: 4_100_000n, available: 5_000_000n, bond: 500_000n },
  },
  days: [
    {
      day: '2027-05-29',
      trades: [
        { buyerId: 'acme', sellerId: 'gpu1', priceTicks: 2000, lots: 20_000 },
        { buyerId: 'acme', sellerId: 'gpu2', priceTicks: 2000, lots: 10_000 },
        { buyerId: 'beta', sellerId: 'gpu2', priceTicks: 2050, lots: 2, lastHour: true },
      ],
    },
    {
      day: '2027-05-30',
      trades: [
        { buyerId: 'beta', sellerId: 'gpu2', priceTicks: 2095, lots: 3, lastHour: true },
        { buyerId: 'beta', sellerId: 'gpu2', priceTicks: 2108, lots: 2, lastHour: true },
      ],
    },
    {
      day: '2027-05-31',
      trades: [
        { buyerId: 'beta', sellerId: 'gpu2', priceTicks: 2199, lots: 1, lastHour: true },
        { buyerId: 'beta', sellerId: 'gpu2', priceTicks: 2200, lots: 1, lastHour: true },
      ],
    },
  ],
  expiry: { periodDays: 30 },
  expected: {
    marks: [
      { priceTicks: 2050, source: 'trades' },
      { priceTicks: 2100, source: 'trades' },
      { priceTicks: 2200, source: 'trades' },
    ],
    variation: [
      { acme: 1_500_000n, gpu1: -1_000_000n, gpu2: -500_000n },
      { acme: 1_500_000n, beta: 99n, gpu1: -1_000_000n, gpu2: -500_099n },
      { acme: 3_000_000n, beta: 701n, gpu1: -2_000_000n, gpu2: -1_000_701n },
    ],
    settlements: [
      {
        collections: [
          { participantId: 'gpu1', source: 'margin', amount: 1_000_000n },
          { participantId: 'gpu2', source: 'margin', amount: 500_000n },
        ],
        payments: [{ participantId: 'acme', amount: 1_500_000n }],
        cuts: [],
        defaults: [],
      },
    ],
    funds: {
      acme: { margin: 0n, available: 2_000_000n, bond: 0n, escrow: 66_000_000n },
      beta: { margin: 0n, available: 2_140n, bond: 0n, escrow: 6_600n },
      gpu1: { margin: 4_000_000n, available: 5_000_000n, bond: 1_000_000n, escrow: 0n },
      gpu2: { margin: 2_099_200n, available: 5_000_000n, bond: 500_000n, escrow: 0n },
    },
    insurance: 10_000_000n,
    expiry: {
      funding: [
        { participantId: 'acme', fundedLots: 30_000, fromMargin: 18_000_000n, fromAvailable: 48_000_000n },
        { participantId: 'beta', fundedLots: 3, fromMargin: 3_740n, fromAvailable: 2_860n },
      ],
      allocations: [
        { shortId: 'gpu1', longId: 'acme', lots: 19_996 },
        { shortId: 'gpu1', longId: 'beta', lots: 1 },
        { shortId: 'gpu2', longId: 'acme', lots: 10_004 },
        { shortId: 'gpu2', longId: 'beta', lots: 2 },
      ],
      schedules: {
        'gpu1>acme': [...days(16, 667), ...days(14, 666)],
        'gpu1>beta': [1, ...days(29, 0)],
        'gpu2>acme': [...days(14, 334), ...days(16, 333)],
        'gpu2>beta': [1, 1, ...days(28, 0)],
      },
    },
  },
};
