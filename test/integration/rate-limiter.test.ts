import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../../src/common/domain-error.js';
import { loadConfig } from '../../src/platform/config/app-config.js';
import { RateLimiter } from '../../src/platform/http/rate-limiter.js';
import { RedisConnections } from '../../src/platform/redis/redis.module.js';
import { TestClock } from '../support/test-clock.js';
import { TEST_REDIS_URL } from '../support/test-env.js';

// Issue 15 item 1: the shared per-participant budget without a Redis round trip per request.
// Two limiters stand for two API processes on one Redis; the clock is the test's, so no window
// boundary can fall mid-test.
const LIMIT = 100;
const config = loadConfig({ DATABASE_URL: 'postgres://unused', REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `rl-${randomUUID().slice(0, 8)}`, RATE_LIMIT_PER_SECOND: String(LIMIT) }, 'api');
const clock = new TestClock('2026-12-04T12:00:00.000Z');
let redis: RedisConnections[];
let processes: RateLimiter[];

beforeAll(() => {
  redis = [new RedisConnections(config), new RedisConnections(config)];
  processes = redis.map((connections) => new RateLimiter(config, connections, clock));
});
afterAll(async () => {
  await Promise.all(redis.map((connections) => connections.onApplicationShutdown()));
});

/** Takes `n` units one at a time from `limiter`, concurrently; how many were granted. */
async function take(limiter: RateLimiter, participant: string, n: number, units = 1): Promise<number> {
  const outcomes = await Promise.allSettled(Array.from({ length: n }, () => limiter.take(participant, units)));
  for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'RATE_LIMITED' });
  return outcomes.filter((o) => o.status === 'fulfilled').length;
}

describe('the rate limiter', () => {
  test('spends a lease locally: a hundred requests cost about ten Redis round trips, and the hundred-and-first is refused', async () => {
    const participant = randomUUID();
    const calls = jest.spyOn(redis[0].client, 'eval');
    let granted = 0;
    for (let i = 0; i < LIMIT; i++) granted += await take(processes[0], participant, 1);
    expect(granted).toBe(LIMIT);
    expect(calls.mock.calls.length).toBe(LIMIT / 10);
    await expect(processes[0].take(participant)).rejects.toBeInstanceOf(DomainError);
    calls.mockRestore();
  });

  test('concurrent requests share one lease request', async () => {
    const participant = randomUUID();
    const calls = jest.spyOn(redis[0].client, 'eval');
    expect(await take(processes[0], participant, 10)).toBe(10);
    expect(calls.mock.calls.length).toBe(1);
    calls.mockRestore();
  });

  test('two processes never grant more than the budget in a window between them, and the next window starts afresh', async () => {
    const participant = randomUUID();
    const [a, b] = await Promise.all([take(processes[0], participant, 80), take(processes[1], participant, 80)]);
    expect(a + b).toBeLessThanOrEqual(LIMIT);
    // Refused early by at most a lease (a tenth) the other process still holds.
    expect(a + b).toBeGreaterThanOrEqual(LIMIT - LIMIT / 10);
    clock.advance(1000);
    expect(await take(processes[0], participant, 50)).toBe(50);
  });

  test('a request heavier than a lease takes what it needs, or nothing once the budget cannot cover it', async () => {
    const participant = randomUUID();
    clock.advance(1000);
    await expect(processes[0].take(participant, 60)).resolves.toMatchObject({ limit: LIMIT, remaining: 40 });
    await expect(processes[1].take(participant, 50)).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { limit: LIMIT } });
    await expect(processes[1].take(participant, 40)).resolves.toMatchObject({ remaining: 0 });
  });
});
