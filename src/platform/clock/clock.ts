import { Inject, Injectable, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

/**
 * The time, as services that decide by it should read it: injected, so tests can set it
 * (test/support/test-clock.ts) instead of waiting for it. Database timestamps (`now()`) are not
 * affected; this is for rules that compare against a moment, such as which contracts are due.
 *
 * `CLOCK_RATE` above 1 (demos only; refused in production) makes it run that many times faster
 * than real time from `CLOCK_ANCHOR` (default: when the process started), so a forward sees a
 * daily mark within seconds. Only forwards read it (marks, expiry, listing, the ops console's
 * forward pages); spot delivery windows, settlement and order expiry use the wall clock or the
 * database's `now()`, and run at real speed.
 */
@Injectable()
export class Clock {
  private readonly rate: number;
  private readonly anchorMs: number;

  constructor(@Optional() @Inject(APP_CONFIG) config?: Pick<AppConfig, 'clock'>) {
    this.rate = config?.clock?.rate ?? 1;
    this.anchorMs = config?.clock?.anchorMs ?? Date.now();
  }

  now(): Date {
    const real = Date.now();
    return this.rate === 1 ? new Date(real) : new Date(fastTime(real, this.anchorMs, this.rate));
  }
}

/** The fast clock's reading at real time `realMs`: real time until the anchor, `rate` times faster after it. */
export function fastTime(realMs: number, anchorMs: number, rate: number): number {
  return realMs <= anchorMs ? realMs : anchorMs + (realMs - anchorMs) * rate;
}
