import { feeMicros, notionalMicros, type PriceGrid } from '../../markets/price.js';

/**
 * Money of an order, exactly (market-rules §2 and §4). Prices are integer ticks, quantities integer
 * lots, money bigint micro-USD; notional and fee arithmetic are the markets module's
 * (`notionalMicros`: never rounded; `feeMicros`: rounded up).
 */
export interface InstrumentMoney {
  readonly grid: PriceGrid;
  readonly makerFeeBps: number;
  readonly takerFeeBps: number;
  /** The provider's performance bond on a spot sell, in bps of notional (default 1000 = 10 %). */
  readonly bondBps: number;
}

export type Liquidity = 'maker' | 'taker';

export function notional(instrument: InstrumentMoney, priceTicks: number, lots: number): bigint {
  return notionalMicros(priceTicks, lots, instrument.grid);
}

const feeOf = feeMicros;

/**
 * An order's fees are computed on its cumulative notional per liquidity role, so that rounding up
 * happens once per order and role, not once per fill: after any fills, the order has paid exactly
 * `ceil(takerNotional × takerBps) + ceil(makerNotional × makerBps)`.
 */
export interface FeeState {
  readonly takerNotional: bigint;
  readonly makerNotional: bigint;
}

export const NO_FILLS: FeeState = { takerNotional: 0n, makerNotional: 0n };

export interface Fill {
  readonly notional: bigint;
  readonly fee: bigint;
  readonly after: FeeState;
}

/** The notional and fee of one fill of an order, given what the order has filled before. */
export function fill(instrument: InstrumentMoney, before: FeeState, priceTicks: number, lots: number, role: Liquidity): Fill {
  const value = notional(instrument, priceTicks, lots);
  if (role === 'taker') {
    const total = before.takerNotional + value;
    return { notional: value, fee: feeOf(total, instrument.takerFeeBps) - feeOf(before.takerNotional, instrument.takerFeeBps), after: { ...before, takerNotional: total } };
  }
  const total = before.makerNotional + value;
  return { notional: value, fee: feeOf(total, instrument.makerFeeBps) - feeOf(before.makerNotional, instrument.makerFeeBps), after: { ...before, makerNotional: total } };
}

/**
 * What a buy order must still hold with `openLots` open at `limitTicks`, having filled `fees` so
 * far: the open notional at the limit, plus the most fees it could still pay whichever role its
 * fills take. Every fill is at or below the limit, so this never grows: after a fill, the hold
 * less what the fill used always covers the new requirement, and the excess is released.
 */
export function buyHoldRequired(instrument: InstrumentMoney, limitTicks: number, openLots: number, fees: FeeState = NO_FILLS): bigint {
  const open = notional(instrument, limitTicks, openLots);
  const takerMore = feeOf(fees.takerNotional + open, instrument.takerFeeBps) - feeOf(fees.takerNotional, instrument.takerFeeBps);
  const makerMore = feeOf(fees.makerNotional + open, instrument.makerFeeBps) - feeOf(fees.makerNotional, instrument.makerFeeBps);
  return open + takerMore + makerMore;
}

/**
 * The most fees an order could still pay with `openLots` open at `limitTicks`, whichever role its
 * fills take: what a forward order holds (its margin is the participant's, not the order's).
 */
export function feeHoldRequired(instrument: InstrumentMoney, limitTicks: number, openLots: number, fees: FeeState = NO_FILLS): bigint {
  return buyHoldRequired(instrument, limitTicks, openLots, fees) - notional(instrument, limitTicks, openLots);
}

/** The performance bond a spot sell holds while `openLots` of it are open at `limitTicks`. */
export function sellBond(instrument: InstrumentMoney, limitTicks: number, openLots: number): bigint {
  return feeOf(notional(instrument, limitTicks, openLots), instrument.bondBps);
}
