import type { ForwardTerms } from '../../markets/instrument-terms.js';
import { type LiveOrder, openLots } from '../../orders/core/live-order.js';
import { feeHoldRequired, type InstrumentMoney } from '../../orders/core/order-money.js';
import type { ProductRules } from '../../orders/core/product-rules.js';
import { type ForwardBook, type ForwardFacts } from './forward-book.js';
import { ForwardKeeper } from './forward-keeper.js';

const NO_FACTS: ForwardFacts = { roles: new Map(), capacity: new Map() };

/**
 * Forwards on the order path's seam (market-rules §6). An order holds only the most fee it could
 * pay, on `held`; the participant's initial margin, on `margin`, backs its position and open
 * orders together (the keeper). A trade moves no notional: both sides pay their fee at the trade,
 * and the position changes. Fills make no deliveries: expiry does, by allocation.
 */
export const FORWARD_RULES: ProductRules = {
  kind: 'forward',
  money: (terms): InstrumentMoney => ({ grid: terms, makerFeeBps: terms.makerFeeBps, takerFeeBps: terms.takerFeeBps, bondBps: (terms as ForwardTerms).bondBps }),
  holdPot: () => 'held',
  openHold: (money: InstrumentMoney, order: LiveOrder) => (order.status === 'open' ? feeHoldRequired(money, order.priceTicks, openLots(order), order.fees) : 0n),
  sellHoldFollowsFill: false,
  sellsNeedCapacity: false,
  refuseAdded: () => undefined,
  // Buyers may sell and providers buy, to reduce a position: the keeper's reduce-only rule decides.
  roleToPlace: () => undefined,
  fillsAreDeliveries: false,
  buyerNotionalToEscrow: false,
  sellerFeeAtTrade: true,
  keeper: (kept, facts, terms) => new ForwardKeeper(kept as ForwardBook, (facts as ForwardFacts | undefined) ?? NO_FACTS, terms as ForwardTerms),
};
