/** A long at expiry: its lots and what it can fund them from. */
export interface ExpiryLong {
  readonly participantId: string;
  readonly lots: number;
  /** Its margin on the contract, after the final mark's variation. */
  readonly margin: bigint;
  readonly available: bigint;
}

export interface FundExpiryInputs {
  readonly longs: ReadonlyArray<ExpiryLong>;
  /** The full notional of one lot at the settlement price (notionalMicros(settlement, 1, grid)). */
  readonly notionalPerLot: bigint;
}

export interface ExpiryFunding {
  readonly participantId: string;
  readonly fundedLots: number;
  readonly fromMargin: bigint;
  readonly fromAvailable: bigint;
}

/**
 * What each long moves to escrow at expiry (market-rules §6): the full notional of its lots at the
 * settlement price, from its margin first (margin counts towards it), then its available cash. A
 * long whose margin and cash cannot fund every lot is cut to the whole lots they fund, so what
 * goes to delivery is always paid for: `fundedLots = min(lots, floor((margin + available) /
 * notionalPerLot))`, and the amounts pay exactly `fundedLots × notionalPerLot`. In input order.
 */
export function fundExpiry(inputs: FundExpiryInputs): ExpiryFunding[] {
  const { notionalPerLot } = inputs;
  if (notionalPerLot < 0n) throw new RangeError('a lot has no negative notional');
  return inputs.longs.map(({ participantId, lots, margin, available }) => {
    if (!Number.isSafeInteger(lots) || lots < 0) throw new RangeError(`${participantId}: lots must be a non-negative integer`);
    if (margin < 0n || available < 0n) throw new RangeError(`${participantId}: margin and available cash are never negative`);
    const affordable = notionalPerLot === 0n ? BigInt(lots) : (margin + available) / notionalPerLot;
    const fundedLots = affordable < BigInt(lots) ? Number(affordable) : lots;
    const required = BigInt(fundedLots) * notionalPerLot;
    const fromMargin = margin < required ? margin : required;
    return { participantId, fundedLots, fromMargin, fromAvailable: required - fromMargin };
  });
}
