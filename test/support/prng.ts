/** A seeded PRNG (mulberry32), so a failing randomized test can be replayed with its seed. */
export { prng } from '../../src/common/prng.js';

/** A whole number in [lo, hi], drawn from `random`. */
export const betweenOf = (random: () => number) => (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
