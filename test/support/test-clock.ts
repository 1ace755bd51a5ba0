import { Clock } from '../../src/platform/clock/clock.js';

/** A clock that stands still until a test moves it: `startTestApp({}, 'api', { clock })`. */
export class TestClock extends Clock {
  private current: number;

  constructor(start: Date | string = new Date()) {
    super();
    this.current = new Date(start).getTime();
  }

  override now(): Date {
    return new Date(this.current);
  }

  set(date: Date | string): this {
    this.current = new Date(date).getTime();
    return this;
  }

  advance(ms: number): this {
    this.current += ms;
    return this;
  }
}
