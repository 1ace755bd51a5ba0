const DAY_MS = 86_400_000;

/** An ISO week far enough ahead to be listed and traded now: its label, days and last trade. */
export interface UpcomingWeek {
  /** `YYYY-Www`. */
  readonly period: string;
  /** Monday 00:00 UTC. */
  readonly start: Date;
  /** 00:00 UTC the day before the start: the default last trade. */
  readonly lastTradeAt: Date;
  /** The seven delivery days, `YYYY-MM-DD`. */
  readonly days: readonly string[];
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The first ISO week whose last trade (the day before it starts) is at least a day after `now`, so
 * a test can list and trade it whenever it runs, and name its dates without hard-coding them.
 */
export function upcomingWeek(now = new Date()): UpcomingWeek {
  let start = Math.floor(now.getTime() / DAY_MS) * DAY_MS + DAY_MS;
  while (new Date(start).getUTCDay() !== 1 || start - DAY_MS < now.getTime() + DAY_MS) start += DAY_MS;
  const thursday = new Date(start + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS / 7);
  return {
    period: `${year}-W${String(week).padStart(2, '0')}`,
    start: new Date(start),
    lastTradeAt: new Date(start - DAY_MS),
    days: Array.from({ length: 7 }, (_, i) => isoDay(start + i * DAY_MS)),
  };
}

/** The UTC day of `at`, `YYYY-MM-DD`, and the instant just after it ends. */
export const dayOf = (at: Date) => isoDay(at.getTime());
export const justAfter = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS + 5_000);
