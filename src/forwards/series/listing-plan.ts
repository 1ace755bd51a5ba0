import { DAY_MS, defaultLastTradeAt } from '../../markets/instrument-terms.js';

/**
 * Which contracts a forward series should have listed at a moment (market-rules §6), decided
 * without I/O: pure, so the rollovers (month to month, year ends, ISO years of 53 weeks) and the
 * last-trade cut-off are tested on their own.
 */

export const SERIES_CADENCES = ['monthly', 'weekly'] as const;
export type SeriesCadence = (typeof SERIES_CADENCES)[number];

/** How far ahead a series may list: a year of months, two months of weeks. */
export const MAX_PERIODS_AHEAD: { readonly [C in SeriesCadence]: number } = { monthly: 12, weekly: 8 };

export interface SeriesPlan {
  readonly cadence: SeriesCadence;
  readonly periodsAhead: number;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The UTC month holding `at`: its label and start. */
function monthOf(at: Date): { label: string; start: Date } {
  const start = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  return { label: `${start.getUTCFullYear()}-${pad(start.getUTCMonth() + 1)}`, start };
}

/** The ISO week holding `at`: its label (the ISO year is the year of the week's Thursday) and its Monday. */
function isoWeekOf(at: Date): { label: string; start: Date } {
  const midnight = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  const daysSinceMonday = (new Date(midnight).getUTCDay() + 6) % 7;
  const monday = midnight - daysSinceMonday * DAY_MS;
  const thursday = new Date(monday + 3 * DAY_MS);
  const isoYear = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / (7 * DAY_MS));
  return { label: `${isoYear}-W${pad(week)}`, start: new Date(monday) };
}

/** The period of `cadence` that starts at `start`, and the start of the one after it. */
function periodAt(cadence: SeriesCadence, start: Date): { label: string; next: Date } {
  if (cadence === 'monthly') {
    return { label: monthOf(start).label, next: new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1)) };
  }
  return { label: isoWeekOf(start).label, next: new Date(start.getTime() + 7 * DAY_MS) };
}

/**
 * The labels (`2027-01`, `2027-W03`) of the series' next `periodsAhead` periods that still trade
 * at `now`: the first periods, in order, whose default last trade (00:00 UTC the day before they
 * start) is after `now`. As each contract stops trading, the window moves on by one period, so a
 * run just after a last trade lists the next period. Listing what is already listed is the
 * caller's no-op.
 */
export function dueContracts(series: SeriesPlan, now: Date): string[] {
  const due: string[] = [];
  // The period holding `now` has begun, so its last trade has passed: start from it and skip on.
  let start = (series.cadence === 'monthly' ? monthOf(now) : isoWeekOf(now)).start;
  while (due.length < series.periodsAhead) {
    const period = periodAt(series.cadence, start);
    if (defaultLastTradeAt(start).getTime() > now.getTime()) due.push(period.label);
    start = period.next;
  }
  return due;
}
