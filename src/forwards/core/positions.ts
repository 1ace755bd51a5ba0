import { notionalMicros, notionalPerTickLot, type PriceGrid } from '../../markets/price.js';

/**
 * A participant's net position on one forward contract (market-rules §6), as the contract's order
 * writer keeps it: signed lots (long > 0, short < 0), what the open lots cost, the notional they
 * are margined at, and when the position was opened (oldest first at expiry). Pure data: the
 * money that backs it sits on the participant's margin account, counted in `margin`.
 */
export interface Position {
  readonly participantId: string;
  /** Net lots: long > 0, short < 0. */
  readonly lots: number;
  /** Σ trade price × lots of the open lots, in ticks × lots (average cost): averagePrice = cost / |lots|. */
  readonly costTicks: bigint;
  /**
   * Notional (micro-USD) the open lots are margined at: the limit of the order that opened each lot
   * (so a fill never raises an order's margin), re-based to the mark at each daily mark.
   */
  readonly marginBasis: bigint;
  /** Sequence of the trade that opened the position (0 while flat). */
  readonly openedSeq: number;
  /** Money on the participant's margin account for this contract: its equity (market-rules §6). */
  readonly margin: bigint;
  /** Variation margin received less paid, since the position was first opened (shown, not money). */
  readonly variation: bigint;
  /** Under a margin call: orders that would grow the position are refused until it is cured. */
  readonly inCall: boolean;
  /** Net lots at the last daily mark (0 before the first): what the next mark's price move applies to. */
  readonly lotsAtMark: number;
  /** Σ trade price × signed lots (buy +, sell −) since the last mark, in ticks × lots. */
  readonly tradedTicksSinceMark: bigint;
}

export const flatPosition = (participantId: string): Position => ({
  participantId,
  lots: 0,
  costTicks: 0n,
  marginBasis: 0n,
  openedSeq: 0,
  margin: 0n,
  variation: 0n,
  inCall: false,
  lotsAtMark: 0,
  tradedTicksSinceMark: 0n,
});

/** One side of a trade as it changes one participant's position. */
export interface PositionTrade {
  readonly side: 'buy' | 'sell';
  readonly lots: number;
  readonly priceTicks: number;
  /** The limit of the participant's order that traded: the price its margin was held at. */
  readonly marginPriceTicks: number;
  readonly seq: number;
}

/** `part` of `whole`'s share of `amount`, rounded down: a reduced position's cost and basis. */
const share = (amount: bigint, part: number, whole: number): bigint => (amount * BigInt(part)) / BigInt(whole);

/**
 * The position after one trade: lots in the position's direction add at the trade price (cost) and
 * the order's limit (basis); lots against it close at the average, pro rata; lots beyond closing
 * it open the other way. Closing rounds cost and basis down, so a reduction never raises margin.
 */
export function applyTrade(position: Position, trade: PositionTrade, grid: PriceGrid): Position {
  const signed = trade.side === 'buy' ? trade.lots : -trade.lots;
  const traded = { ...position, tradedTicksSinceMark: position.tradedTicksSinceMark + BigInt(trade.priceTicks) * BigInt(signed) };
  return moveLots(traded, trade, signed, grid);
}

function moveLots(position: Position, trade: PositionTrade, signed: number, grid: PriceGrid): Position {
  const size = Math.abs(position.lots);
  if (position.lots === 0 || Math.sign(position.lots) === Math.sign(signed)) {
    return {
      ...position,
      lots: position.lots + signed,
      costTicks: position.costTicks + BigInt(trade.priceTicks) * BigInt(trade.lots),
      marginBasis: position.marginBasis + notionalMicros(trade.marginPriceTicks, trade.lots, grid),
      openedSeq: position.lots === 0 ? trade.seq : position.openedSeq,
    };
  }
  const closing = Math.min(trade.lots, size);
  const remaining = size - closing;
  const reduced: Position = {
    ...position,
    lots: position.lots + Math.sign(signed) * closing,
    costTicks: share(position.costTicks, remaining, size),
    marginBasis: share(position.marginBasis, remaining, size),
    openedSeq: remaining === 0 ? 0 : position.openedSeq,
  };
  const opening = trade.lots - closing;
  return opening === 0 ? reduced : moveLots(reduced, { ...trade, lots: opening }, Math.sign(signed) * opening, grid);
}

/**
 * Variation margin of one position at a mark (market-rules §6), from what the position kept since
 * the previous mark: `(mark − previousMark) × lotsAtMark + Σ (mark − tradePrice) × signedLots`,
 * which is `mark × lots − previousMark × lotsAtMark − Σ tradePrice × signedLots`. Exact micro-USD;
 * positive: the participant receives. Over a contract it sums to zero, as positions and each
 * trade's two sides do.
 */
export function positionVariation(position: Position, markTicks: number, previousMarkTicks: number | undefined, grid: PriceGrid): bigint {
  if (previousMarkTicks === undefined && position.lotsAtMark !== 0) throw new Error('a position held at a mark needs that mark');
  const ticks = BigInt(markTicks) * BigInt(position.lots) - BigInt(previousMarkTicks ?? 0) * BigInt(position.lotsAtMark) - position.tradedTicksSinceMark;
  return ticks * notionalPerTickLot(grid);
}

/** The position after a mark settled its variation: re-based to the mark, counting afresh from it. */
export function rebaseToMark(position: Position, markTicks: number, variation: bigint, grid: PriceGrid): Position {
  return {
    ...position,
    marginBasis: notionalMicros(markTicks, Math.abs(position.lots), grid),
    lotsAtMark: position.lots,
    tradedTicksSinceMark: 0n,
    variation: position.variation + variation,
  };
}

/** Average price of the open lots in ticks, as a decimal string with `decimals` places (informative). */
export function averagePriceTicks(position: Position, decimals = 4): string | null {
  if (position.lots === 0) return null;
  const scale = 10n ** BigInt(decimals);
  const scaled = (position.costTicks * scale + BigInt(Math.abs(position.lots)) / 2n) / BigInt(Math.abs(position.lots));
  const whole = scaled / scale;
  const fraction = (scaled % scale).toString().padStart(decimals, '0');
  return decimals === 0 ? whole.toString() : `${whole}.${fraction}`;
}
