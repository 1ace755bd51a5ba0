import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { JobSlots } from './job-slots.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('JobSlots', () => {
  test('half the pool, at least one', () => {
    expect(JobSlots.forPool(20).size).toBe(10);
    expect(JobSlots.forPool(10).size).toBe(5);
    expect(JobSlots.forPool(3).size).toBe(1);
    expect(JobSlots.forPool(1).size).toBe(1);
    expect(() => new JobSlots(0)).toThrow(RangeError);
  });

  test('never more holders than slots, every job runs, in arrival order once waiting', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }), async (size, delays) => {
        const slots = new JobSlots(size);
        let running = 0;
        let peak = 0;
        const started: number[] = [];
        await Promise.all(
          delays.map((delay, i) =>
            slots.run(async () => {
              started.push(i);
              running += 1;
              peak = Math.max(peak, running);
              for (let d = 0; d < delay; d++) await tick();
              running -= 1;
            }),
          ),
        );
        expect(peak).toBeLessThanOrEqual(size);
        expect(started).toHaveLength(delays.length);
        // The first `size` start at once; the rest start in the order they arrived.
        expect(started.slice(size)).toEqual([...started.slice(size)].sort((a, b) => a - b));
        expect(slots.inUse).toBe(0);
      }),
    );
  });

  test('a failed job frees its slot', async () => {
    const slots = new JobSlots(1);
    await expect(slots.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(slots.run(async () => 'ran')).resolves.toBe('ran');
  });
});
