import { feeMicros, notionalMicros, type PriceGrid } from '../../markets/price.js';
import type { Position } from './positions.js';

/** A contract's margin rates, in basis points of notional (market-rules §6). */
export interface MarginRates {
  readonly initialMarginBps: number;
  readonly maintenanceMarginBps: number;
}

/**
 * What a participant could be made to take or deliver on one contract: its position at its margin
 * basis, and its open orders at their limits, per side (micro-USD notional).
 */
export interface Exposure {
  readonly position: Pick<Position, 'lots' | 'marginBasis'>;
  readonly openBuys: bigint;
  readonly openSells: bigint;
}

/** Margin rounds up, like fees: the exchange never holds less than the rate says. */
const ofBps = feeMicros;

/**
 * Initial margin on `max(long + open buys, short + open sells)` at order prices (market-rules §6,
 * exchange-core's rule): an order on the side that does not set the maximum needs no new margin.
 */
export function initialRequirement(rates: MarginRates, exposure: Exposure): bigint {
  const { lots, marginBasis } = exposure.position;
  const long = (lots > 0 ? marginBasis : 0n) + exposure.openBuys;
  const short = (lots < 0 ? marginBasis : 0n) + exposure.openSells;
  return ofBps(long > short ? long : short, rates.initialMarginBps);
}

/** Maintenance margin: the rate on the position's notional at the mark. */
export function maintenanceRequirement(rates: MarginRates, lots: number, markTicks: number, grid: PriceGrid): bigint {
  return ofBps(notionalMicros(markTicks, Math.abs(lots), grid), rates.maintenanceMarginBps);
}

/**
 * The margin an order change moves, given the requirement before and after it and the margin held:
 * a rise is drawn in full (from available cash); a fall releases margin only above the new
 * requirement, so money short of it (after a loss) stays to cure the shortfall. Positive: to draw.
 */
export function marginMove(before: bigint, after: bigint, held: bigint): bigint {
  if (after >= before) return after - before;
  const surplus = held - after;
  if (surplus <= 0n) return 0n;
  const fall = before - after;
  return -(surplus < fall ? surplus : fall);
}

export interface MarginStatus {
  readonly equity: bigint;
  readonly initial: bigint;
  readonly maintenance: bigint;
  /** Equity above initial margin (negative: short of it). */
  readonly excess: bigint;
  /** Equity below maintenance: a margin call. */
  readonly belowMaintenance: boolean;
  /** Equity back at initial margin: a call is cured. */
  readonly atInitial: boolean;
}

/** Where a participant stands on a contract: equity against both requirements. */
export function marginStatus(equity: bigint, initial: bigint, maintenance: bigint): MarginStatus {
  return { equity, initial, maintenance, excess: equity - initial, belowMaintenance: equity < maintenance, atInitial: equity >= initial };
}
