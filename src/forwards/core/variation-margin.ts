import { notionalPerTickLot, type PriceGrid } from '../../markets/price.js';

/** One trade on the contract since the previous mark. */
export interface VariationTrade {
  readonly buyerId: string;
  readonly sellerId: string;
  readonly priceTicks: number;
  readonly lots: number;
}

export interface VariationInputs {
  readonly grid: PriceGrid;
  readonly markTicks: number;
  /** Undefined at the contract's first mark: nobody held a position at a mark before. */
  readonly previousMarkTicks?: number;
  /** Signed lots (long > 0, short < 0) per participant at the previous mark. */
  readonly positionsAtPreviousMark: ReadonlyMap<string, number>;
  /** The contract's trades since the previous mark. */
  readonly trades: ReadonlyArray<VariationTrade>;
}

/**
 * Variation margin at a daily mark (market-rules §6), per participant:
 * `(mark − previousMark) × positionAtPreviousMark + Σ (mark − tradePrice) × signedLots` (buyer +,
 * seller −), in micro-USD exactly (ticks × lots × notionalPerTickLot: nothing is rounded).
 * Positive: the participant receives. Each trade's two sides cancel and positions at a mark net
 * to zero, so the amounts sum to zero exactly; positions that do not net to zero are refused, as
 * they would make the exchange pay or keep the difference. Zero amounts are left out; entries
 * come in participant id order.
 */
export function variationMargin(inputs: VariationInputs): Map<string, bigint> {
  const { markTicks, previousMarkTicks } = inputs;
  const ticks = new Map<string, bigint>();
  const add = (participantId: string, amount: bigint) => ticks.set(participantId, (ticks.get(participantId) ?? 0n) + amount);
  let net = 0n;
  for (const [participantId, lots] of inputs.positionsAtPreviousMark) {
    if (lots === 0) continue;
    if (previousMarkTicks === undefined) throw new RangeError(`${participantId} holds ${lots} lots at a previous mark, but there is none`);
    net += BigInt(lots);
    add(participantId, BigInt(markTicks - previousMarkTicks) * BigInt(lots));
  }
  if (net !== 0n) throw new RangeError(`positions at the previous mark net to ${net} lots, not zero`);
  for (const trade of inputs.trades) {
    const move = BigInt(markTicks - trade.priceTicks) * BigInt(trade.lots);
    add(trade.buyerId, move);
    add(trade.sellerId, -move);
  }
  const perTickLot = notionalPerTickLot(inputs.grid);
  const amounts = new Map<string, bigint>();
  for (const participantId of [...ticks.keys()].sort()) {
    const amount = ticks.get(participantId)! * perTickLot;
    if (amount !== 0n) amounts.set(participantId, amount);
  }
  return amounts;
}
