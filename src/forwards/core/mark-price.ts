import { collarLimit } from '../../matching/index.js';

/** What a contract's daily mark is taken from (market-rules §6). */
export interface MarkInputs {
  /** The contract's trades in the last hour before the mark. */
  readonly trades: ReadonlyArray<{ readonly priceTicks: number; readonly lots: number }>;
  readonly bestBid?: number;
  readonly bestAsk?: number;
  /** Last trade or index: the collar's centre. */
  readonly referenceTicks?: number;
  readonly collarBps: number;
  readonly previousMarkTicks?: number;
  readonly spotIndexTicks?: number;
}

export type MarkSource = 'trades' | 'mid' | 'previous' | 'index';

export interface Mark {
  readonly priceTicks: number;
  readonly source: MarkSource;
}

/** `numerator / denominator` rounded half up, for non-negative integers: exact, no float. */
const roundHalfUp = (numerator: bigint, denominator: bigint): number => Number((2n * numerator + denominator) / (2n * denominator));

/** Within ±collarBps of the reference, bounds included, as a market order's collar is (matching's collarLimit). */
const inCollar = (priceTicks: number, referenceTicks: number | undefined, collarBps: number): boolean =>
  referenceTicks === undefined || (priceTicks >= collarLimit(referenceTicks, collarBps, 'sell') && priceTicks <= collarLimit(referenceTicks, collarBps, 'buy'));

/**
 * The daily mark (market-rules §6): the volume-weighted price of the last hour's trades, rounded
 * half up to a whole tick; else the mid of the best bid and ask when both exist and both sit
 * within the collar around the reference (a quote far from the last trade is not a price: one
 * stray order must not move every participant's equity); else the previous mark; the first mark,
 * with none of these, is the spot index. Undefined when there is nothing to mark at.
 */
export function markPrice(inputs: MarkInputs): Mark | undefined {
  let lots = 0n;
  let ticksTimesLots = 0n;
  for (const trade of inputs.trades) {
    lots += BigInt(trade.lots);
    ticksTimesLots += BigInt(trade.priceTicks) * BigInt(trade.lots);
  }
  if (lots > 0n) return { priceTicks: roundHalfUp(ticksTimesLots, lots), source: 'trades' };
  const { bestBid, bestAsk, referenceTicks, collarBps } = inputs;
  if (bestBid !== undefined && bestAsk !== undefined && inCollar(bestBid, referenceTicks, collarBps) && inCollar(bestAsk, referenceTicks, collarBps)) {
    return { priceTicks: roundHalfUp(BigInt(bestBid) + BigInt(bestAsk), 2n), source: 'mid' };
  }
  if (inputs.previousMarkTicks !== undefined) return { priceTicks: inputs.previousMarkTicks, source: 'previous' };
  if (inputs.spotIndexTicks !== undefined) return { priceTicks: inputs.spotIndexTicks, source: 'index' };
  return undefined;
}
