import { describe, expect, test } from '@jest/globals';
import { resolveInstrumentTerms } from '../../markets/instrument-terms.js';
import { dueContracts } from './listing-plan.js';
import { forwardRequestOf, resolveSeriesTerms } from './series-terms.js';

const NOW = new Date('2031-03-10T12:00:00Z');

describe('series terms', () => {
  test('take the instrument defaults', () => {
    expect(resolveSeriesTerms({ modelClassId: 'llama3-8b', cadence: 'monthly', periodsAhead: 3 })).toEqual({
      ok: true,
      terms: {
        modelClassId: 'llama3-8b',
        cadence: 'monthly',
        periodsAhead: 3,
        initialMarginBps: 2000,
        maintenanceMarginBps: 1000,
        bondBps: 1000,
        tickMicroUsdPerMTok: 1000,
        lotTokens: 1000,
        makerFeeBps: 0,
        takerFeeBps: 10,
        collarBps: 1000,
      },
    });
  });

  test.each([
    [{ cadence: 'monthly', periodsAhead: 13 }, ['periodsAhead']],
    [{ cadence: 'weekly', periodsAhead: 9 }, ['periodsAhead']],
    [{ cadence: 'weekly', periodsAhead: 0 }, ['periodsAhead']],
    [{ maintenanceMarginBps: 2001 }, ['maintenanceMarginBps']],
    [{ initialMarginBps: 500 }, ['maintenanceMarginBps']],
    [{ tickSize: '0.0005' }, ['tickSize', 'lotSize']],
  ] as const)('%o is refused naming %o', (change, fields) => {
    const resolved = resolveSeriesTerms({ modelClassId: 'x', cadence: 'monthly', periodsAhead: 3, ...change });
    expect(resolved).toMatchObject({ ok: false, fields });
    if (!resolved.ok) for (const field of fields) expect(resolved.message).toContain(field);
  });

  test('every contract a series has due resolves to a forward with the series terms', () => {
    const resolved = resolveSeriesTerms({ modelClassId: 'x', cadence: 'weekly', periodsAhead: 8, tickSize: '0.05', lotSize: 20, initialMarginBps: 3000, maintenanceMarginBps: 3000, bondBps: 0 });
    if (!resolved.ok) throw new Error(resolved.message);
    for (const period of dueContracts(resolved.terms, NOW)) {
      const instrument = resolveInstrumentTerms(forwardRequestOf(resolved.terms, period), NOW);
      expect(instrument.ok && instrument.terms).toMatchObject({
        kind: 'forward',
        deliveryPeriod: period,
        tickMicroUsdPerMTok: 50_000,
        lotTokens: 20,
        initialMarginBps: 3000,
        maintenanceMarginBps: 3000,
        bondBps: 0,
      });
    }
  });
});
