import { describe, expect, test } from '@jest/globals';
import { scenario as bufferedDefault } from './default-to-insurance.fixture.js';
import { scenario as cutWinners } from './default-cuts-winners.fixture.js';
import type { CapacityScenario, ContractScenario, ForwardScenario } from './forward-scenario.js';
import { ContractHarness, runCapacity } from './harness.js';
import { scenario as hedgeAMonth } from './hedge-a-month.fixture.js';
import { scenario as markWithoutTrades } from './mark-without-trades.fixture.js';
import { scenario as overlappingShorts } from './overlapping-shorts.fixture.js';

const SCENARIOS: Record<string, ForwardScenario> = {
  'hedge-a-month': hedgeAMonth,
  'default-to-insurance': bufferedDefault,
  'default-cuts-winners': cutWinners,
  'mark-without-trades': markWithoutTrades,
  'overlapping-shorts': overlappingShorts,
};

function runContract(scenario: ContractScenario): void {
  const h = new ContractHarness(scenario, scenario.grid, scenario.collarBps);
  const start = h.total();
  scenario.days.forEach((day, i) => {
    const { mark, variation, settlement } = h.markDay(day);
    expect({ day: day.day, mark }).toEqual({ day: day.day, mark: scenario.expected.marks[i] });
    expect({ day: day.day, variation: Object.fromEntries(variation) }).toEqual({ day: day.day, variation: scenario.expected.variation[i] });
    const expected = scenario.expected.settlements?.[i];
    if (expected) expect(settlement).toEqual(expected);
    // Nothing is created or lost at a mark.
    expect(h.total()).toBe(start);
  });
  expect(scenario.days.length).toBe(scenario.expected.marks.length);
  if (scenario.expiry) {
    const expiry = h.expire(scenario.expiry.periodDays);
    expect(expiry).toEqual(scenario.expected.expiry);
    expect(h.total()).toBe(start);
  }
  expect(Object.fromEntries(h.funds)).toEqual(scenario.expected.funds);
  expect(h.insurance).toBe(scenario.expected.insurance);
}

function runCapacityScenario(scenario: CapacityScenario): void {
  expect(runCapacity(scenario)).toEqual(scenario.expected);
}

describe('forward scenarios', () => {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    test(`${name}: ${scenario.description}`, () => (scenario.kind === 'contract' ? runContract(scenario) : runCapacityScenario(scenario)));
  }
});
