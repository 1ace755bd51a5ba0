import { Injectable } from '@nestjs/common';

/**
 * The time, as services that decide by it should read it: injected, so tests can set it
 * (test/support/test-clock.ts) instead of waiting for it. Database timestamps (`now()`) are not
 * affected; this is for rules that compare against a moment, such as which contracts are due.
 */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
