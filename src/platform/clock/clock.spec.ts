import { describe, expect, test } from '@jest/globals';
import { ConfigurationError, loadConfig } from '../config/app-config.js';
import { Clock, fastTime } from './clock.js';

describe('Clock', () => {
  test('runs at real time by default', () => {
    const before = Date.now();
    const now = new Clock().now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  test('CLOCK_RATE runs it that many times faster from CLOCK_ANCHOR', () => {
    const anchor = Date.parse('2026-11-26T23:59:00Z');
    expect(fastTime(anchor, anchor, 4320)).toBe(anchor);
    expect(fastTime(anchor - 5_000, anchor, 4320)).toBe(anchor - 5_000); // before the anchor: real time
    // 20 real seconds are a day: the clock passes midnight after 60 s / 4320 ≈ 14 ms.
    expect(new Date(fastTime(anchor + 20_000, anchor, 4320)).toISOString()).toBe('2026-11-27T23:59:00.000Z');
    const config = loadConfig({ CLOCK_RATE: '4320', CLOCK_ANCHOR: new Date(Date.now() - 1_000).toISOString() }, 'api');
    const ahead = new Clock(config).now().getTime() - Date.now();
    expect(ahead).toBeGreaterThan(4_000_000); // about 4319 s ahead after 1 real second
    expect(ahead).toBeLessThan(4_400_000);
  });

  test('two processes sharing the anchor agree on the time', () => {
    const config = loadConfig({ CLOCK_RATE: '1000', CLOCK_ANCHOR: new Date(Date.now() - 500).toISOString() }, 'api');
    const [a, b] = [new Clock(config), new Clock(config)];
    expect(Math.abs(a.now().getTime() - b.now().getTime())).toBeLessThan(50 * 1000);
  });

  test('a fast clock is refused in production, and a bad anchor names the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', CLOCK_RATE: '10' }, 'api')).toThrow(/CLOCK_RATE must be 1 when NODE_ENV is production/);
    expect(() => loadConfig({ NODE_ENV: 'production', CLOCK_RATE: '1' }, 'api')).not.toThrow();
    expect(() => loadConfig({ CLOCK_RATE: '0' }, 'api')).toThrow(ConfigurationError);
    expect(() => loadConfig({ CLOCK_ANCHOR: 'yesterday' }, 'api')).toThrow(/CLOCK_ANCHOR/);
  });
});
