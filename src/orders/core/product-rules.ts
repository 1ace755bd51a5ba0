import type { DomainError } from '../../common/domain-error.js';
import type { InstrumentKind, InstrumentTerms, SpotTerms } from '../../markets/instrument-terms.js';
import type { Side } from '../../matching/index.js';
import { buyHoldRequired, type InstrumentMoney, sellBond } from './order-money.js';
import { type ProviderCapacity, spotCapacityRefusal } from './capacity.js';
import { type LiveOrder, openLots } from './live-order.js';
import type { PositionKeeper } from './position-keeper.js';

/** The participant account an open order's hold sits on. */
export type HoldPot = 'held' | 'bond';

/** Quantity an order is about to add to its side of the book, for the product's checks. */
export interface AddedQuantity {
  readonly participantId: string;
  readonly side: Side;
  readonly lots: number;
}

/** What the checks on added quantity may look at: the batch's facts and the book as planned so far. */
export interface AddedQuantityFacts {
  readonly terms: InstrumentTerms;
  capacity(providerId: string): ProviderCapacity;
  /** Lots of the provider's open sells on this book, sells accepted earlier in the batch included. */
  openSellLots(providerId: string): number;
}

/**
 * What differs by product (market-rules §4-6), so that the planner has no `kind` branches: what
 * an order holds while open, where a buyer's notional goes when it trades, whether a sell's hold
 * for its filled lots leaves the order with the fill, which checks guard added quantity, and
 * what a fill produces besides itself. Pure: each method sees only what it is given.
 */
export interface ProductRules {
  readonly kind: InstrumentKind;
  /** The instrument's money terms: its grid, fee rates and the bond rate its sells hold. */
  money(terms: InstrumentTerms): InstrumentMoney;
  holdPot(side: Side): HoldPot;
  /** What an open order must hold for its open lots at its limit (a closed order: nothing). */
  openHold(money: InstrumentMoney, order: LiveOrder): bigint;
  /** A sell's hold for lots that filled leaves the order: it backs the fill's delivery now. */
  readonly sellHoldFollowsFill: boolean;
  /** Refuses quantity an order would add to its side (placed, or raised by an amend), or undefined. */
  refuseAdded(added: AddedQuantity, facts: AddedQuantityFacts): DomainError | undefined;
  /** Sells are checked against the provider's declared capacity: the shell reads it for them. */
  readonly sellsNeedCapacity: boolean;
  /** The role a participant needs to place an order on `side`, or undefined when its position decides. */
  roleToPlace(side: Side): 'provider' | 'buyer' | undefined;
  /** Fills that become deliveries, committed with the batch by the deliveries module. */
  readonly fillsAreDeliveries: boolean;
  /** The buyer's notional goes to escrow at the trade (spot: it pays for the delivery). */
  readonly buyerNotionalToEscrow: boolean;
  /** The seller's fee is charged at the trade (forwards), not when its delivery is paid (spot). */
  readonly sellerFeeAtTrade: boolean;
  /**
   * The product's per-participant state for one batch (forwards: positions and margin), from what
   * the book keeps across batches (`BookState.product`) and what the shell read for the batch
   * (`BatchFacts.product`). None on spot.
   */
  keeper?(kept: unknown, facts: unknown, terms: InstrumentTerms): PositionKeeper;
}

const openBuyOrSellHold = (money: InstrumentMoney, order: LiveOrder): bigint => {
  if (order.status !== 'open') return 0n;
  return order.side === 'buy' ? buyHoldRequired(money, order.priceTicks, openLots(order), order.fees) : sellBond(money, order.priceTicks, openLots(order));
};

/**
 * Spot (market-rules §4-5): a buy holds its open notional plus the most fee it could pay; a sell
 * (a provider listing capacity) needs an enabled node and room in its declared capacity, and holds
 * a performance bond (the instrument's `bondBps` of notional) that follows each fill into its
 * delivery.
 */
const moneyOf = (terms: InstrumentTerms, bondBps: number): InstrumentMoney => ({
  grid: terms,
  makerFeeBps: terms.makerFeeBps,
  takerFeeBps: terms.takerFeeBps,
  bondBps,
});

export const SPOT_RULES: ProductRules = {
  kind: 'spot',
  money: (terms) => moneyOf(terms, (terms as SpotTerms).bondBps),
  holdPot: (side) => (side === 'buy' ? 'held' : 'bond'),
  openHold: openBuyOrSellHold,
  sellHoldFollowsFill: true,
  sellsNeedCapacity: true,
  refuseAdded: ({ participantId, side, lots }, facts) => {
    if (side !== 'sell') return undefined;
    const capacity = facts.capacity(participantId);
    return spotCapacityRefusal(facts.terms as SpotTerms, capacity, capacity.soldBefore + facts.openSellLots(participantId) + lots);
  },
  roleToPlace: (side) => (side === 'sell' ? 'provider' : 'buyer'),
  fillsAreDeliveries: true,
  buyerNotionalToEscrow: true,
  sellerFeeAtTrade: false,
};

/** The spot product's rules: what the order path runs when no other product is registered for a kind. */
export const BASE_PRODUCTS: readonly ProductRules[] = [SPOT_RULES];
