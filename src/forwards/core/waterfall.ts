/** What a loser can pay variation margin from, in this order (market-rules §6). */
export interface LoserFunds {
  readonly margin: bigint;
  readonly available: bigint;
  readonly bond: bigint;
}

export interface WaterfallInputs {
  /** Variation margin per participant (variationMargin): positive receives, negative pays. Sums to zero. */
  readonly amounts: ReadonlyMap<string, bigint>;
  /** What each loser can pay from; a loser without an entry has nothing. */
  readonly funds: ReadonlyMap<string, LoserFunds>;
  /** The exchange's insurance fund balance. */
  readonly insurance: bigint;
}

export type FundingSource = keyof LoserFunds | 'insurance';

export interface VariationSettlement {
  /** Losers first (by id), each in the waterfall's order; an 'insurance' entry names the loser it pays for. */
  readonly collections: Array<{ participantId: string; source: FundingSource; amount: bigint }>;
  /** To winners (by id); a winner cut to nothing has none. */
  readonly payments: Array<{ participantId: string; amount: bigint }>;
  /** What a winner was owed but not paid, pro rata to the winners' amounts (by id). */
  readonly cuts: Array<{ participantId: string; amount: bigint }>;
  /** Losers whose own funds did not cover what they owe: the part insurance (or the winners) bore. */
  readonly defaults: Array<{ participantId: string; unpaid: bigint }>;
}

const byId = <T extends { participantId: string }>(a: T, b: T) => (a.participantId < b.participantId ? -1 : a.participantId > b.participantId ? 1 : 0);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const SOURCES = ['margin', 'available', 'bond'] as const;

/**
 * Settles one mark's variation margin through the default waterfall (market-rules §6): a loser
 * pays from its margin, then its available cash, then its provider bond, and what its own funds
 * miss is paid by the insurance fund while it lasts. Winners are paid what was collected and
 * nothing more; a shortfall is cut from them pro rata to what they are owed, each cut rounded
 * down and the micro-dollars left over going one each to the largest remainders (ties in id
 * order), so the cuts add up to the shortfall exactly. Participants are taken in id order.
 */
export function settleVariation(inputs: WaterfallInputs): VariationSettlement {
  const entries = [...inputs.amounts].map(([participantId, amount]) => ({ participantId, amount })).sort(byId);
  if (entries.reduce((sum, e) => sum + e.amount, 0n) !== 0n) throw new RangeError('variation margin must sum to zero');
  if (inputs.insurance < 0n) throw new RangeError('the insurance fund is negative');
  const settlement: VariationSettlement = { collections: [], payments: [], cuts: [], defaults: [] };
  let insurance = inputs.insurance;
  let collected = 0n;
  for (const { participantId, amount } of entries.filter((e) => e.amount < 0n)) {
    let owed = -amount;
    const funds = inputs.funds.get(participantId);
    for (const source of SOURCES) {
      const take = min(owed, funds?.[source] ?? 0n);
      if (take < 0n) throw new RangeError(`${participantId}'s ${source} is negative`);
      if (take > 0n) settlement.collections.push({ participantId, source, amount: take });
      owed -= take;
      collected += take;
    }
    if (owed === 0n) continue;
    settlement.defaults.push({ participantId, unpaid: owed });
    const cover = min(owed, insurance);
    if (cover > 0n) settlement.collections.push({ participantId, source: 'insurance', amount: cover });
    insurance -= cover;
    collected += cover;
  }
  const winners = entries.filter((e) => e.amount > 0n);
  const owedToWinners = winners.reduce((sum, e) => sum + e.amount, 0n);
  const cuts = proRataCuts(winners, owedToWinners - collected, owedToWinners);
  winners.forEach(({ participantId, amount }, i) => {
    if (amount > cuts[i]) settlement.payments.push({ participantId, amount: amount - cuts[i] });
    if (cuts[i] > 0n) settlement.cuts.push({ participantId, amount: cuts[i] });
  });
  return settlement;
}

/** `shortfall` shared pro rata to `winners`' amounts (summing to `total`): largest remainder, ties by position (id order). */
function proRataCuts(winners: ReadonlyArray<{ amount: bigint }>, shortfall: bigint, total: bigint): bigint[] {
  if (shortfall === 0n) return winners.map(() => 0n);
  const cuts = winners.map((w) => (shortfall * w.amount) / total);
  let left = shortfall - cuts.reduce((sum, c) => sum + c, 0n);
  const remainders = winners.map((w, i) => ({ i, rest: (shortfall * w.amount) % total }));
  remainders.sort((a, b) => (a.rest === b.rest ? a.i - b.i : a.rest > b.rest ? -1 : 1));
  for (const { i } of remainders) {
    if (left === 0n) break;
    cuts[i] += 1n;
    left -= 1n;
  }
  return cuts;
}

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
