import type { BookConfig, Side } from './types.js';

const BPS_PER_UNIT = 10_000;

/** Whether a taker on `takerSide` limited to `limitPriceTicks` may trade at `makerPriceTicks`. */
export function crosses(takerSide: Side, limitPriceTicks: number, makerPriceTicks: number): boolean {
  return takerSide === 'buy' ? makerPriceTicks <= limitPriceTicks : makerPriceTicks >= limitPriceTicks;
}

/**
 * The worst price a market order may fill at: reference ± floor(reference × bps / 10 000),
 * never below one tick. Computed in two parts so it is exact for every safe-integer reference.
 */
export function collarLimit(referencePriceTicks: number, collarBps: number, side: Side): number {
  const whole = Math.floor(referencePriceTicks / BPS_PER_UNIT);
  const rest = referencePriceTicks - whole * BPS_PER_UNIT;
  const offset = whole * collarBps + Math.floor((rest * collarBps) / BPS_PER_UNIT);
  return side === 'buy'
    ? Math.min(referencePriceTicks + offset, Number.MAX_SAFE_INTEGER)
    : Math.max(referencePriceTicks - offset, 1);
}

/** A book's configuration is a programming decision, not input: a bad one throws. */
export function assertValidConfig(config: BookConfig): void {
  const { collarBps } = config;
  if (!Number.isSafeInteger(collarBps) || collarBps < 0 || collarBps > BPS_PER_UNIT) {
    throw new RangeError(`collarBps must be an integer from 0 to ${BPS_PER_UNIT}, got ${collarBps}`);
  }
}
