/**
 * The money of one spot delivery, exactly (market-rules §5, §7 and §8). Pure: no I/O, no clock.
 *
 * A delivery of `quantity` tokens put `notional` micro-USD of the buyer's in escrow at the fill;
 * the provider owes a fee of `sellerFee` on what it is paid for, and `bond` of its cash backs the
 * promise. Tokens are settled along one axis, 0 to `quantity`:
 *
 *   0 ── paid (from the bottom, as verified) ──▶ … ◀── disputed ── refunded (from the top) ── quantity
 *
 * Delivered tokens are paid from the bottom as they are verified. Tokens an admin resolved for the
 * buyer in a dispute (market-rules §7) were not delivered through the provider's fault: they leave
 * the delivery for good from the top, their escrow back to the buyer with a breach penalty from the
 * bond, as soon as the dispute is resolved. Tokens under dispute sit just below those, held out
 * until an admin resolves them. At the window's close the rest between is paid or refunded. The
 * money for the tokens up to `x` is defined cumulatively, each part rounded down on its own:
 *
 *   providerNet(x) = floor((notional - sellerFee) * x / quantity)
 *   fee(x)         = floor(sellerFee * x / quantity)
 *
 * Both only grow with `x`, so no step ever takes money back; at `x = quantity` they are exactly
 * `notional - sellerFee` and `sellerFee`, so a fully settled delivery pays every micro-dollar of
 * its escrow; and every step's amounts are a difference of two values of the same functions, so
 * settling in many steps or in one moves the same total. A refund is the whole escrow of its
 * tokens (both parts: no fee is charged on what the provider did not deliver). Payouts, the close
 * and refunds take disjoint stretches of the axis, so together they move the escrow exactly once.
 *
 * A breach penalty is `penaltyBps` of a refund, rounded up (as fees are), and never more than the
 * bond left on the delivery: refunds for disputes take theirs first, the close's breach takes its
 * own from what is left, and the close releases the rest. So the bond is never overdrawn.
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
  /** What is left of the bond (after any penalties for disputes), back to the provider's available cash. */
  readonly bondReleased: bigint;
}

/**
 * What resolved disputes took out of a delivery for the buyer before the close: tokens from the top
 * of the axis, and the penalties paid for them out of the bond.
 */
export interface Refunded {
  readonly tokens: bigint;
  readonly penalty: bigint;
}

export const NOTHING_REFUNDED: Refunded = { tokens: 0n, penalty: 0n };

/** Tokens of a dispute resolved for the buyer, taken out of the delivery for good. */
export interface DisputeRefund {
  /** The stretch of the axis they leave: `from` up to `to`. */
  readonly from: bigint;
  readonly to: bigint;
  /** Their escrow, all of it (no fee), back to the buyer's available cash. */
  readonly refund: bigint;
  /** The breach penalty on that refund, paid to the buyer out of the delivery's bond. */
  readonly penalty: bigint;
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

/** The breach penalty on `refund`: `penaltyBps` of it, rounded up as fees are, at most `bondLeft`. */
export function penaltyOn(refund: bigint, bondLeft: bigint, penaltyBps = DEFAULT_PENALTY_BPS): bigint {
  const wanted = (refund * penaltyBps + 9_999n) / 10_000n;
  return wanted < bondLeft ? wanted : bondLeft;
}

/** The end of the axis that payouts and the close may reach: below the disputed and refunded tokens. */
export function settleableTo(terms: DeliveryTerms, disputed: bigint, refunded: Refunded): bigint {
  return terms.quantity - refunded.tokens - disputed;
}

function assertRefunded(terms: DeliveryTerms, refunded: Refunded): void {
  if (refunded.tokens < 0n || refunded.tokens > terms.quantity) throw new RangeError(`refunded ${refunded.tokens} of ${terms.quantity} tokens`);
  if (refunded.penalty < 0n || refunded.penalty > terms.bond) throw new RangeError(`penalties of ${refunded.penalty} exceed the bond ${terms.bond}`);
}

/**
 * `tokens` resolved for the buyer in a dispute (already released from `disputed`), with `paid`
 * tokens paid and `refunded` taken out before: they leave the top of what is left of the axis.
 * The buyer gets their escrow back and `penaltyBps` of it from the bond left (market-rules §7:
 * an inflating node is not paid for what it inflated).
 */
export function refundDisputed(
  terms: DeliveryTerms,
  paid: bigint,
  disputed: bigint,
  refunded: Refunded,
  tokens: bigint,
  penaltyBps = DEFAULT_PENALTY_BPS,
): DisputeRefund {
  assertRefunded(terms, refunded);
  if (tokens < 0n || paid < 0n || disputed < 0n || paid + disputed + refunded.tokens + tokens > terms.quantity) {
    throw new RangeError(`cannot refund ${tokens} tokens: ${paid} paid, ${disputed} disputed and ${refunded.tokens} refunded of ${terms.quantity}`);
  }
  const to = terms.quantity - refunded.tokens;
  const from = to - tokens;
  const escrow = payoutBetween(terms, from, to);
  const refund = escrow.providerNet + escrow.fee;
  return { from, to, refund, penalty: penaltyOn(refund, terms.bond - refunded.penalty, penaltyBps) };
}

/**
 * The close of a window, with `paid` tokens already paid, `disputed` held out and `refunded` ones
 * gone: the tokens in between were not delivered. Without a breach they are paid (capacity was
 * reserved); with one, their escrow is refunded and the buyer is paid `penaltyBps` of it from the
 * bond left on the delivery. What is left of the bond then goes back to the provider either way.
 */
export function closeDelivery(
  terms: DeliveryTerms,
  paid: bigint,
  disputed: bigint,
  breach: boolean,
  penaltyBps = DEFAULT_PENALTY_BPS,
  refunded: Refunded = NOTHING_REFUNDED,
): Close {
  assertRefunded(terms, refunded);
  const settledTo = settleableTo(terms, disputed, refunded);
  if (paid < 0n || disputed < 0n || paid > settledTo) throw new RangeError(`paid ${paid}, disputed ${disputed} and refunded ${refunded.tokens} exceed ${terms.quantity}`);
  const bondLeft = terms.bond - refunded.penalty;
  const undeliveredTokens = settledTo - paid;
  const nothing: Payout = { tokens: 0n, providerNet: 0n, fee: 0n };
  if (undeliveredTokens === 0n) {
    return { outcome: 'delivered', undeliveredTokens, payout: nothing, refund: 0n, penalty: 0n, bondReleased: bondLeft };
  }
  const undelivered = payoutBetween(terms, paid, settledTo);
  if (!breach) {
    return { outcome: 'take_or_pay', undeliveredTokens, payout: undelivered, refund: 0n, penalty: 0n, bondReleased: bondLeft };
  }
  const refund = undelivered.providerNet + undelivered.fee;
  const penalty = penaltyOn(refund, bondLeft, penaltyBps);
  return { outcome: 'breach', undeliveredTokens, payout: nothing, refund, penalty, bondReleased: bondLeft - penalty };
}
