/**
 * The steps of settling a spot delivery, and which ledger accounts each movement is between
 * (market-rules §5, docs/settlement.md). Pure: no I/O, no clock; the money is delivery-money.ts.
 *
 * Accounts, debited → credited (an arrow from the account that pays):
 *
 *   delivery-payout        buyer.escrow  → provider.available   provider's share of delivered tokens
 *   delivery-take-or-pay   buyer.escrow  → provider.available   undelivered tokens, no breach
 *   delivery-fee           buyer.escrow  → fees                 the provider's fee, out of the escrow
 *   delivery-refund        buyer.escrow  → buyer.available      undelivered tokens' escrow: breach, or
 *                                                               a dispute resolved for the buyer
 *   delivery-penalty       provider.bond → buyer.available      penalty on such a refund, at most the bond left
 *   delivery-bond-release  provider.bond → provider.available   what is left of the bond at the close
 *
 * Keys. A step's record key and its transfer ids derive from the delivery and the point on its
 * token axis the step settles to (`payout:<delivery>:<to>`, `close:<delivery>`). That point only
 * grows, so a step planned again after it committed reuses an id the ledger and the records refuse.
 * A dispute's refund derives from the dispute (`dispute:<dispute>`), which is resolved once.
 */
import type { CloseOutcome, DeliveryTerms, Refunded } from './delivery-money.js';
import { closeDelivery, DEFAULT_PENALTY_BPS, payoutBetween, refundDisputed, settleableTo } from './delivery-money.js';

export type SettlementTransferCode =
  | 'delivery-payout'
  | 'delivery-take-or-pay'
  | 'delivery-fee'
  | 'delivery-refund'
  | 'delivery-penalty'
  | 'delivery-bond-release';

/** A participant's accounts that settlement moves money between. */
export interface PartyAccounts<A> {
  readonly available: A;
  readonly escrow: A;
  readonly bond: A;
}

export interface SettlementAccounts<A> {
  readonly buyer: PartyAccounts<A>;
  readonly provider: PartyAccounts<A>;
  readonly fees: A;
}

/** The accounts a settlement movement debits and credits (the table above). */
export function accountsFor<A>(code: SettlementTransferCode, a: SettlementAccounts<A>): { readonly debit: A; readonly credit: A } {
  switch (code) {
    case 'delivery-payout':
    case 'delivery-take-or-pay':
      return { debit: a.buyer.escrow, credit: a.provider.available };
    case 'delivery-fee':
      return { debit: a.buyer.escrow, credit: a.fees };
    case 'delivery-refund':
      return { debit: a.buyer.escrow, credit: a.buyer.available };
    case 'delivery-penalty':
      return { debit: a.provider.bond, credit: a.buyer.available };
    case 'delivery-bond-release':
      return { debit: a.provider.bond, credit: a.provider.available };
  }
}

export interface PlannedTransfer {
  readonly id: string;
  readonly code: SettlementTransferCode;
  readonly amount: bigint;
  /** The delivery. */
  readonly ref: string;
}

export interface RoutedTransfer<A> extends PlannedTransfer {
  readonly debitAccountId: A;
  readonly creditAccountId: A;
}

/** A step's transfers that move money, with their accounts; zero amounts are dropped. */
export function routeTransfers<A>(transfers: readonly PlannedTransfer[], accounts: SettlementAccounts<A>): RoutedTransfer<A>[] {
  return transfers
    .filter((t) => t.amount > 0n)
    .map((t) => {
      const { debit, credit } = accountsFor(t.code, accounts);
      return { ...t, debitAccountId: debit, creditAccountId: credit };
    });
}

/** What settlement knows of a delivery when it plans (read after the delivery is locked). */
export interface DeliveryPosition {
  readonly id: string;
  readonly terms: DeliveryTerms;
  readonly paidTokens: bigint;
  readonly disputedTokens: bigint;
  /** Tokens resolved for the buyer in disputes (gone from the top of the axis), and their penalties. */
  readonly refunded: Refunded;
  /** Verified usage no payout has claimed yet, and its rows' ids. */
  readonly unpaidTokens: bigint;
  readonly unpaidUsageIds: readonly string[];
}

/** A step's effect on its delivery: the new settled point, and the money it moved. */
export interface StepEffect {
  readonly paidTokens: bigint;
  /** Tokens that left the delivery for good, for the buyer (a dispute's refund): added up. */
  readonly refundedTokens: bigint;
  readonly paid: bigint;
  readonly fee: bigint;
  readonly refunded: bigint;
  readonly penalty: bigint;
  readonly outcome?: CloseOutcome;
}

export interface Step {
  readonly key: string;
  readonly kind: 'payout' | 'close' | 'dispute';
  readonly deliveryId: string;
  readonly tokens: bigint;
  readonly amounts: Readonly<Record<string, bigint>>;
  readonly transfers: readonly PlannedTransfer[];
  /** The verified usage this step pays. */
  readonly usageIds: readonly string[];
  readonly effect: StepEffect;
}

/** Verified usage not yet paid: the tokens from `paid` up, capped where disputed tokens begin. */
export function payoutStep(d: DeliveryPosition): Step {
  const paid = d.paidTokens;
  const ceiling = settleableTo(d.terms, d.disputedTokens, d.refunded);
  const wanted = paid + d.unpaidTokens;
  const to = wanted < ceiling ? wanted : ceiling; // usage beyond what was bought is not paid
  const p = payoutBetween(d.terms, paid, to);
  const key = `payout:${d.id}:${to}`;
  return {
    // Usage that pays nothing (over-delivery) is still marked paid, under a key of its own.
    key: p.tokens > 0n ? key : `${key}:${d.unpaidUsageIds[0] ?? 'none'}`,
    kind: 'payout',
    deliveryId: d.id,
    tokens: p.tokens,
    amounts: { providerPayout: p.providerNet, providerFee: p.fee },
    transfers: [
      { id: `${key}:provider`, code: 'delivery-payout', amount: p.providerNet, ref: d.id },
      { id: `${key}:fee`, code: 'delivery-fee', amount: p.fee, ref: d.id },
    ],
    usageIds: d.unpaidUsageIds,
    effect: { paidTokens: to, refundedTokens: 0n, paid: p.providerNet, fee: p.fee, refunded: 0n, penalty: 0n },
  };
}

/** The window's close after `paid` tokens were paid (market-rules §5); disputed tokens stay put. */
export function closeStep(d: DeliveryPosition, paid: bigint, breach: boolean): Step & { readonly outcome: CloseOutcome } {
  const c = closeDelivery(d.terms, paid, d.disputedTokens, breach, DEFAULT_PENALTY_BPS, d.refunded);
  const key = `close:${d.id}`;
  return {
    key,
    kind: 'close',
    deliveryId: d.id,
    tokens: c.undeliveredTokens,
    amounts: { providerPayout: c.payout.providerNet, providerFee: c.payout.fee, buyerRefund: c.refund, penalty: c.penalty, bondReleased: c.bondReleased },
    transfers: [
      { id: `${key}:provider`, code: 'delivery-take-or-pay', amount: c.payout.providerNet, ref: d.id },
      { id: `${key}:fee`, code: 'delivery-fee', amount: c.payout.fee, ref: d.id },
      { id: `${key}:refund`, code: 'delivery-refund', amount: c.refund, ref: d.id },
      { id: `${key}:penalty`, code: 'delivery-penalty', amount: c.penalty, ref: d.id },
      { id: `${key}:bond`, code: 'delivery-bond-release', amount: c.bondReleased, ref: d.id },
    ],
    usageIds: [],
    effect: {
      paidTokens: c.outcome === 'take_or_pay' ? paid + c.undeliveredTokens : paid,
      refundedTokens: 0n,
      paid: c.payout.providerNet,
      fee: c.payout.fee,
      refunded: c.refund,
      penalty: c.penalty,
      outcome: c.outcome,
    },
    outcome: c.outcome,
  };
}

/**
 * `tokens` of a dispute resolved for the buyer (market-rules §7), already released from the
 * delivery's disputed tokens: not delivered through the provider's fault, like a breach limited to
 * them. They leave the delivery for good, from the top of its axis: their escrow goes back to the
 * buyer with no fee, and the breach penalty on it comes out of the bond left on the delivery.
 */
export function disputeRefundStep(d: DeliveryPosition, disputeId: string, tokens: bigint): Step {
  const r = refundDisputed(d.terms, d.paidTokens, d.disputedTokens, d.refunded, tokens);
  const key = `dispute:${disputeId}`;
  return {
    key,
    kind: 'dispute',
    deliveryId: d.id,
    tokens,
    amounts: { buyerRefund: r.refund, penalty: r.penalty },
    transfers: [
      { id: `${key}:refund`, code: 'delivery-refund', amount: r.refund, ref: d.id },
      { id: `${key}:penalty`, code: 'delivery-penalty', amount: r.penalty, ref: d.id },
    ],
    usageIds: [],
    effect: { paidTokens: d.paidTokens, refundedTokens: tokens, paid: 0n, fee: 0n, refunded: r.refund, penalty: r.penalty },
  };
}

/** Whether a step is worth recording: it settles tokens, closes the window, or marks usage paid. */
export const isWorthRecording = (s: Step): boolean => s.tokens > 0n || s.kind === 'close' || s.usageIds.length > 0;

/** A delivery's totals after a batch's steps. */
export interface DeliveryTotals extends Required<Omit<StepEffect, 'outcome'>> {
  readonly id: string;
  readonly outcome: CloseOutcome | null;
}

/**
 * The batch's effect on each delivery: several steps of one delivery (a payout, then its close)
 * add up in order; the settled point is the last step's.
 */
export function batchTotals(steps: readonly Step[]): DeliveryTotals[] {
  const totals = new Map<string, DeliveryTotals>();
  for (const s of steps) {
    const t = totals.get(s.deliveryId) ?? { id: s.deliveryId, paidTokens: 0n, refundedTokens: 0n, paid: 0n, fee: 0n, refunded: 0n, penalty: 0n, outcome: null };
    totals.set(s.deliveryId, {
      id: s.deliveryId,
      paidTokens: s.effect.paidTokens,
      refundedTokens: t.refundedTokens + s.effect.refundedTokens,
      paid: t.paid + s.effect.paid,
      fee: t.fee + s.effect.fee,
      refunded: t.refunded + s.effect.refunded,
      penalty: t.penalty + s.effect.penalty,
      outcome: s.effect.outcome ?? t.outcome,
    });
  }
  return [...totals.values()];
}
