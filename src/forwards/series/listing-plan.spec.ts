import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { defaultLastTradeAt, parseDeliveryPeriod } from '../../markets/instrument-terms.js';
import { dueContracts, MAX_PERIODS_AHEAD, type SeriesCadence } from './listing-plan.js';

const at = (iso: string) => new Date(iso);
const monthly = (periodsAhead: number) => ({ cadence: 'monthly', periodsAhead }) as const;
const weekly = (periodsAhead: number) => ({ cadence: 'weekly', periodsAhead }) as const;

describe('monthly series', () => {
  test('lists the next months, the current one never', () => {
    expect(dueContracts(monthly(3), at('2027-01-15T12:00:00Z'))).toEqual(['2027-02', '2027-03', '2027-04']);
    expect(dueContracts(monthly(1), at('2027-01-01T00:00:00Z'))).toEqual(['2027-02']);
  });

  test('rolls over the year end', () => {
    expect(dueContracts(monthly(3), at('2026-11-20T00:00:00Z'))).toEqual(['2026-12', '2027-01', '2027-02']);
    expect(dueContracts(monthly(12), at('2026-12-03T09:00:00Z'))).toEqual([
      '2027-01', '2027-02', '2027-03', '2027-04', '2027-05', '2027-06', '2027-07', '2027-08', '2027-09', '2027-10', '2027-11', '2027-12',
    ]);
  });

  test('a month leaves the window at its last trade, 00:00 UTC the day before it starts', () => {
    // 2027-03 starts on 1 March; its last trade is 28 February 00:00 (2027 is not a leap year).
    expect(dueContracts(monthly(2), at('2027-02-27T23:59:59.999Z'))).toEqual(['2027-03', '2027-04']);
    expect(dueContracts(monthly(2), at('2027-02-28T00:00:00Z'))).toEqual(['2027-04', '2027-05']);
    // 2028 is: 2028-03's last trade is 29 February.
    expect(dueContracts(monthly(1), at('2028-02-28T12:00:00Z'))).toEqual(['2028-03']);
    expect(dueContracts(monthly(1), at('2028-02-29T00:00:00Z'))).toEqual(['2028-04']);
    // On the eve of a new year the January contract has already stopped.
    expect(dueContracts(monthly(1), at('2026-12-31T00:00:00Z'))).toEqual(['2027-02']);
  });
});

describe('weekly series', () => {
  test('lists ISO weeks, Monday to Monday', () => {
    // Wednesday 13 January 2027 is in 2027-W02.
    expect(dueContracts(weekly(3), at('2027-01-13T10:00:00Z'))).toEqual(['2027-W03', '2027-W04', '2027-W05']);
  });

  test('a week leaves the window at its last trade, Sunday 00:00 UTC', () => {
    // 2027-W03 starts on Monday 18 January; trading stops on Sunday 17 January 00:00.
    expect(dueContracts(weekly(1), at('2027-01-16T23:59:59Z'))).toEqual(['2027-W03']);
    expect(dueContracts(weekly(1), at('2027-01-17T00:00:00Z'))).toEqual(['2027-W04']);
  });

  test('rolls over years of 52 and 53 ISO weeks', () => {
    // 2026 has 53 ISO weeks: 2026-W53 runs from Monday 28 December to 2027-W01 on 4 January.
    expect(dueContracts(weekly(3), at('2026-12-16T00:00:00Z'))).toEqual(['2026-W52', '2026-W53', '2027-W01']);
    // 2027 has 52: its W52 is followed by 2028-W01, which starts on Monday 3 January 2028.
    expect(dueContracts(weekly(2), at('2027-12-22T00:00:00Z'))).toEqual(['2027-W52', '2028-W01']);
    // 1 January 2027 is a Friday, in 2026-W53; 1 January 2028 a Saturday, in 2027-W52, a day before 2028-W01's last trade.
    expect(dueContracts(weekly(1), at('2027-01-01T12:00:00Z'))).toEqual(['2027-W01']);
    expect(dueContracts(weekly(1), at('2028-01-01T12:00:00Z'))).toEqual(['2028-W01']);
    expect(dueContracts(weekly(1), at('2028-01-02T00:00:00Z'))).toEqual(['2028-W02']);
    // 2020 has 53 weeks too, and 31 December 2024 (a Tuesday) is in 2025-W01.
    expect(dueContracts(weekly(2), at('2020-12-20T00:00:00Z'))).toEqual(['2020-W53', '2021-W01']);
    expect(dueContracts(weekly(1), at('2024-12-31T00:00:00Z'))).toEqual(['2025-W02']);
  });
});

describe('any series at any moment', () => {
  const cadences = fc.constantFrom<SeriesCadence>('monthly', 'weekly');
  const moments = fc.date({ min: new Date('2001-01-01T00:00:00Z'), max: new Date('2199-01-01T00:00:00Z'), noInvalidDate: true });

  test('exactly periodsAhead consecutive periods, all still trading, and none skipped that still trades', () => {
    fc.assert(
      fc.property(cadences, moments, fc.integer({ min: 1, max: 12 }), (cadence, now, wanted) => {
        const periodsAhead = Math.min(wanted, MAX_PERIODS_AHEAD[cadence]);
        const labels = dueContracts({ cadence, periodsAhead }, now);
        expect(labels).toHaveLength(periodsAhead);
        const periods = labels.map((label) => {
          const period = parseDeliveryPeriod(label);
          if (!period.ok) throw new Error(`${label}: ${period.reason}`);
          return period.value;
        });
        for (const [i, period] of periods.entries()) {
          expect(defaultLastTradeAt(period.start).getTime()).toBeGreaterThan(now.getTime());
          if (i > 0) expect(period.start.getTime()).toBe(periods[i - 1].end.getTime());
        }
        // The period just before the first has stopped trading: nothing that still trades is skipped.
        const first = periods[0].start;
        const previousStart = cadence === 'weekly' ? new Date(first.getTime() - 7 * 86_400_000) : new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() - 1, 1));
        expect(defaultLastTradeAt(previousStart).getTime()).toBeLessThanOrEqual(now.getTime());
      }),
    );
  });
});
