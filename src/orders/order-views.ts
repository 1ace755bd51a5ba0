import { formatUsd } from '../common/money.js';
import { formatPrice, lotsToTokens, type PriceGrid } from '../markets/price.js';
import type { FillRecord } from './core/batch-money.js';

/** A fill as its parties see it (the bond that backs its delivery is the delivery's business). */
export type FillFacts = Omit<FillRecord, 'bond'>;
import type { LiveOrder } from './core/live-order.js';
import type { FillView, OrderView } from './orders.dto.js';

/** An order as its owner sees it (REST and the private stream channel), without its fills. */
export function orderSummary(order: LiveOrder, grid: PriceGrid): Omit<OrderView, 'fills'> {
  return {
    id: String(order.id),
    clientOrderId: order.clientOrderId,
    instrument: order.instrument,
    side: order.side,
    type: order.type,
    timeInForce: order.timeInForce,
    price: formatPrice(order.priceTicks, grid),
    quantity: lotsToTokens(order.quantity, grid),
    filledQuantity: lotsToTokens(order.filled, grid),
    remainingQuantity: order.status === 'open' ? lotsToTokens(order.quantity - order.filled, grid) : 0,
    status: order.status,
    closeReason: order.closeReason,
    postOnly: order.postOnly,
    selfTradePrevention: order.stp,
    expiresAt: order.expiresAt === null ? null : new Date(order.expiresAt).toISOString(),
    hold: formatUsd(order.hold),
    fees: formatUsd(order.feesPaid),
    createdAt: order.createdAt.toISOString(),
  };
}

/** An order with those of `fills` that are its own. */
export function orderView(order: LiveOrder, grid: PriceGrid, fills: readonly FillFacts[]): OrderView {
  return {
    ...orderSummary(order, grid),
    fills: fills.filter((f) => f.makerOrderId === order.id || f.takerOrderId === order.id).map((f) => fillView(f, order.side, order.instrument, grid)),
  };
}

/** A fill as one of its two sides sees it. */
export function fillView(fill: FillFacts, side: 'buy' | 'sell', instrument: string, grid: PriceGrid): FillView {
  return {
    id: fill.id,
    instrument,
    orderId: String(fill.takerSide === side ? fill.takerOrderId : fill.makerOrderId),
    side,
    liquidity: fill.takerSide === side ? 'taker' : 'maker',
    price: formatPrice(fill.priceTicks, grid),
    quantity: lotsToTokens(fill.lots, grid),
    notional: formatUsd(fill.notional),
    fee: formatUsd(side === 'buy' ? fill.buyerFee : fill.sellerFee),
    createdAt: fill.createdAt.toISOString(),
  };
}
