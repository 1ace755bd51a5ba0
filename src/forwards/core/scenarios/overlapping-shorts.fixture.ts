import type { CapacityScenario } from './forward-scenario.js';

/*
 * One provider, one node of 10 tokens/s: 10 × 86,400 = 864,000 tokens a day. Lots of 1,000 tokens.
 * It has a spot delivery of 12,000 tokens on 2027-06-16. Its sells, in order:
 * 1. June 2027 (30 days from 06-01), 18,000 lots = 18,000,000 tokens: 600,000 a day. ok.
 * 2. W24 (06-14 to 06-20, inside June), 2,000 lots = 2,000,000 tokens over 7 days: 285,714 a day and
 *    2 left over, so 285,715 on 06-14 and 06-15. 06-14: 600,000 + 285,715 = 885,715 > 864,000: refused.
 * 3. W24, 1,764 lots = 1,764,000: 252,000 a day. 06-16: 600,000 + 12,000 + 252,000 = 864,000,
 *    exactly the capacity: ok.
 * 4. W24, 1 more lot = 1,000 tokens: 142 a day and 6 left over → 143 on 06-14..06-19. 06-14 and
 *    06-15 have room (852,143); 06-16 does not: 864,000 + 143 = 864,143. Refused, naming 06-16.
 * 5. W27 (07-05 to 07-11, after June), 5,000 lots = 5,000,000: 714,285 a day, 5 left over → 714,286
 *    on the first 5 days; nothing else committed then: ok.
 * 6. W26 (06-28 to 07-04, straddling June's end), 2,000 lots: 285,715 on 06-28 and 06-29. The July
 *    days alone would take it; 06-28 has 600,000 + 285,715 = 885,715: refused, naming 06-28.
 * 7. W26, 1,000 lots: 142,858 on 06-28, then 142,857: 742,858 at most: ok.
 */
export const scenario: CapacityScenario = {
  kind: 'capacity',
  description: 'a provider short a month, then weeks inside and across it: refused only where the overlapping days go over',
  activeNodes: 1,
  tokensPerSecond: 10n,
  lotTokens: 1000,
  spotDeliveries: [{ day: '2027-06-16', tokens: 12_000n }],
  sells: [
    { contract: 'LLAMA-2027-06', firstDay: '2027-06-01', days: 30, lots: 18_000 },
    { contract: 'LLAMA-2027-W24', firstDay: '2027-06-14', days: 7, lots: 2_000 },
    { contract: 'LLAMA-2027-W24', firstDay: '2027-06-14', days: 7, lots: 1_764 },
    { contract: 'LLAMA-2027-W24', firstDay: '2027-06-14', days: 7, lots: 1 },
    { contract: 'LLAMA-2027-W27', firstDay: '2027-07-05', days: 7, lots: 5_000 },
    { contract: 'LLAMA-2027-W26', firstDay: '2027-06-28', days: 7, lots: 2_000 },
    { contract: 'LLAMA-2027-W26', firstDay: '2027-06-28', days: 7, lots: 1_000 },
  ],
  expected: [
    'ok',
    {
      code: 'CAPACITY_EXCEEDED',
      message: 'this sell would commit 885715 tokens on 2027-06-14 (600000 already committed + 285715); your enabled nodes can serve 864000 a day',
    },
    'ok',
    {
      code: 'CAPACITY_EXCEEDED',
      message: 'this sell would commit 864143 tokens on 2027-06-16 (864000 already committed + 143); your enabled nodes can serve 864000 a day',
    },
    'ok',
    {
      code: 'CAPACITY_EXCEEDED',
      message: 'this sell would commit 885715 tokens on 2027-06-28 (600000 already committed + 285715); your enabled nodes can serve 864000 a day',
    },
    'ok',
  ],
};
