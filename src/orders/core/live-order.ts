import type { Side, StpMode, TimeInForce } from '../../matching/index.js';
import type { FeeState } from './order-money.js';

export const ORDER_STATUSES = ['open', 'filled', 'cancelled', 'expired'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * An order as its instrument writer keeps it in memory while it can still change: the engine's
 * view (price, quantities, priority) plus the money it holds and the fees it has paid. Persisted
 * to `orders` in the same transaction as every change.
 */
export interface LiveOrder {
  readonly id: number;
  readonly participantId: string;
  readonly instrument: string;
  readonly clientOrderId: string | null;
  readonly side: Side;
  readonly type: 'limit' | 'market';
  readonly timeInForce: TimeInForce;
  readonly postOnly: boolean;
  readonly stp: StpMode;
  readonly expiresAt: number | null;
  /** Limit price; for a market order, its collar limit. */
  priceTicks: number;
  /** Total quantity in lots, filled part included. */
  quantity: number;
  filled: number;
  status: OrderStatus;
  closeReason: string | null;
  /** A buy's hold on `held`, or a sell's bond on `bond`, in micro-USD. */
  hold: bigint;
  fees: FeeState;
  feesPaid: bigint;
  acceptedSeq: number;
  prioritySeq: number;
  createdAt: Date;
}

export const openLots = (order: LiveOrder) => order.quantity - order.filled;
