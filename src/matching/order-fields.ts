import type { RestingOrder, Side, StpMode, TimeInForce } from './types.js';

/** `expiresAt` of an order that never expires: one `expiresAt <= now` test then covers every order. */
export const NO_EXPIRY = Number.POSITIVE_INFINITY;

/** The fields both books keep per order. */
export interface OrderFields {
  readonly orderId: number;
  readonly owner: string;
  readonly side: Side;
  readonly priceTicks: number;
  readonly quantity: number;
  readonly remaining: number;
  readonly timeInForce: TimeInForce;
  readonly expiresAt: number;
  readonly postOnly: boolean;
  readonly stp: StpMode;
}

export function toRestingOrder(order: OrderFields): RestingOrder {
  return {
    orderId: order.orderId,
    owner: order.owner,
    side: order.side,
    priceTicks: order.priceTicks,
    quantity: order.quantity,
    remaining: order.remaining,
    // Only GTC and GTD orders rest, so only they reach a view.
    timeInForce: order.timeInForce as RestingOrder['timeInForce'],
    ...(order.expiresAt !== NO_EXPIRY && { expiresAt: order.expiresAt }),
    postOnly: order.postOnly,
    stp: order.stp,
  };
}
