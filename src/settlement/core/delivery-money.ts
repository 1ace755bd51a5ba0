/**
 * The money of one spot delivery, exactly (market-rules §5 and §8). Pure: no I/O, no clock.
 *
 * A delivery of `quantity` tokens put `notional` micro-USD of the buyer's in escrow at the fill;
 * the provider owes a fee of `sellerFee` on what it is paid for, and `bond` of its cash backs the
 * promise. Tokens are settled along one axis, 0 to `quantity`: delivered tokens from the bottom as
 * they are verified, and at the window's close the rest (less any tokens under dispute, which stay
 * in escrow until an admin resolves them). The money for the tokens up to `x` is defined
 * cumulatively, each part rounded down on its own:
 *
 *   providerNet(x) = floor((notional - sellerFee) * x / quantity)
 *   fee(x)         = floor(sellerFee * x / quantity)
 *
 * Both only grow with `x`, so no step ever takes money back; at `x = quantity` they are exactly
 * `notional - sellerFee` and `sellerFee`, so a fully settled delivery pays every micro-dollar of
 * its escrow; and every step's amounts are a difference of two values of the same functions, so
 * settling in many steps or in one moves the same total.
 */
export interface DeliveryTerms {
  readonly quantity: bigint;
  readonly notional: bigint;
  readonly sellerFee: bigint;
  readonly bond: bigint;
}

/** The provider's share and the exchange's fee for the tokens settled from `from` up to `to`. */
export interface Payout {
  readonly tokens: bigint;
  readonly providerNet: bigint;
  readonly fee: bigint;
}

export type CloseOutcome = 'delivered' | 'take_or_pay' | 'breach';

/** What the window's close does with the tokens nobody used (and leaves the disputed ones alone). */
export interface Close {
  readonly outcome: CloseOutcome;
  /** Undelivered tokens, paid to the provider (take-or-pay) or refunded to the buyer (breach). */
  readonly undeliveredTokens: bigint;
  /** Take-or-pay: paid like delivered tokens. */
  readonly payout: Payout;
  /** Breach: the undelivered tokens' escrow back to the buyer. */
  readonly refund: bigint;
  /** Breach: the penalty paid to the buyer out of the provider's bond for this delivery. */
  readonly penalty: bigint;
  /** What is left of the bond, back to the provider's available cash. */
  readonly bondReleased: bigint;
}

export const DEFAULT_PENALTY_BPS = 1000n;

export function assertValidTerms(terms: DeliveryTerms): void {
  if (terms.quantity <= 0n) throw new RangeError('a delivery has a positive quantity');
  if (terms.notional < 0n || terms.sellerFee < 0n || terms.bond < 0n) throw new RangeError('delivery money is never negative');
  if (terms.sellerFee > terms.notional) throw new RangeError('the seller fee cannot exceed the notional');
}

function share(total: bigint, x: bigint, quantity: bigint): bigint {
  return (total * x) / quantity; // bigint division rounds toward zero: floor for non-negative values
}

/** Money for settling tokens `from` to `to` on the delivery's axis (0 ≤ from ≤ to ≤ quantity). */
export function payoutBetween(terms: DeliveryTerms, from: bigint, to: bigint): Payout {
  if (from < 0n || to < from || to > terms.quantity) throw new RangeError(`cannot settle tokens ${from} to ${to} of ${terms.quantity}`);
  const net = terms.notional - terms.sellerFee;
  return {
    tokens: to - from,
    providerNet: share(net, to, terms.quantity) - share(net, from, terms.quantity),
    fee: share(terms.sellerFee, to, terms.quantity) - share(terms.sellerFee, from, terms.quantity),
  };
}

/**
 * The close of a window, with `paid` tokens already paid and `disputed` held out: the tokens in
 * between were not delivered. Without a breach they are paid (capacity was reserved); with one,
 * their escrow is refunded and the buyer is paid `penaltyBps` of it from the delivery's bond (at
 * most the whole bond). The rest of the bond goes back to the provider either way.
 */
export function closeDelivery(terms: DeliveryTerms, paid: bigint, disputed: bigint, breach: boolean, penaltyBps = DEFAULT_PENALTY_BPS): Close {
  const settledTo = terms.quantity - disputed;
  if (paid < 0n || disputed < 0n || paid > settledTo) throw new RangeError(`paid ${paid} and disputed ${disputed} exceed ${terms.quantity}`);
  const undeliveredTokens = settledTo - paid;
  const nothing: Payout = { tokens: 0n, providerNet: 0n, fee: 0n };
  if (undeliveredTokens === 0n) {
    return { outcome: 'delivered', undeliveredTokens, payout: nothing, refund: 0n, penalty: 0n, bondReleased: terms.bond };
  }
  const undelivered = payoutBetween(terms, paid, settledTo);
  if (!breach) {
    return { outcome: 'take_or_pay', undeliveredTokens, payout: undelivered, refund: 0n, penalty: 0n, bondReleased: terms.bond };
  }
  const refund = undelivered.providerNet + undelivered.fee;
  const wanted = (refund * penaltyBps + 9_999n) / 10_000n; // rounded up, as fees are
  const penalty = wanted < terms.bond ? wanted : terms.bond;
  return { outcome: 'breach', undeliveredTokens, payout: nothing, refund, penalty, bondReleased: terms.bond - penalty };
}
