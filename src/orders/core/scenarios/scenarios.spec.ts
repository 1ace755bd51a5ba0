import { describe, expect, test } from '@jest/globals';
import { DomainError } from '../../../common/domain-error.js';
import type { FillRecord } from '../batch-money.js';
import { scenario as amendUpThenFill } from './amend-up-then-fill.fixture.js';
import { Harness, spotTerms } from './harness.js';
import { scenario as insufficientFunds } from './insufficient-funds.fixture.js';
import { scenario as makerAndTakerFees } from './maker-and-taker-fees.fixture.js';
import { scenario as marketOrderAtIndex } from './market-order-at-index.fixture.js';
import type { MoneyScenario } from './money-scenario.js';
import { scenario as partialFillThenCancel } from './partial-fill-then-cancel.fixture.js';
import { scenario as sellBondFollowsFill } from './sell-bond-follows-fill.fixture.js';

const SCENARIOS: Record<string, MoneyScenario> = {
  'partial-fill-then-cancel': partialFillThenCancel,
  'amend-up-then-fill': amendUpThenFill,
  'maker-and-taker-fees': makerAndTakerFees,
  'sell-bond-follows-fill': sellBondFollowsFill,
  'insufficient-funds': insufficientFunds,
  'market-order-at-index': marketOrderAtIndex,
};

describe('planBatch money scenarios', () => {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    test(`${name}: ${scenario.description}`, () => {
      const h = new Harness({
        participants: scenario.participants,
        terms: spotTerms(scenario.terms),
        ...(scenario.rules ? { rules: scenario.rules } : {}),
        ...(scenario.capacity ? { capacity: scenario.capacity } : {}),
        ...(scenario.indexPriceTicks !== undefined ? { indexPriceTicks: scenario.indexPriceTicks } : {}),
      });
      const start = [...h.balances.values()].reduce((a, b) => a + b, 0n);
      const fills: FillRecord[] = [];
      scenario.batches.forEach((commands, i) => {
        const plan = h.run(commands);
        fills.push(...plan.fills);
        if (scenario.expectedResults) {
          expect(plan.results.map((r) => (r instanceof DomainError ? r.code : 'ok'))).toEqual(scenario.expectedResults[i]);
        }
      });
      const balances = Object.fromEntries(Object.keys(scenario.participants).map((p) => [p, h.balancesOf(p)]));
      expect(balances).toEqual(scenario.expected.balances);
      expect(h.fees()).toBe(scenario.expected.fees);
      if (scenario.expected.fillBonds) expect(fills.map((f) => f.bond)).toEqual(scenario.expected.fillBonds);
      // Nothing is created or lost: every micro-USD is on some account.
      expect([...h.balances.values()].reduce((a, b) => a + b, 0n)).toBe(start);
    });
  }
});
