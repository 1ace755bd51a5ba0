import type { StpMode, TimeInForce } from '../matching/index.js';
import type { LiveOrder } from './core/live-order.js';
import type { FeeState } from './core/order-money.js';

/** An `orders` row as SQL returns it (bigints as text), and the columns that make one. */
export interface OrderRecord {
  id: string;
  participant_id: string;
  instrument: string;
  client_order_id: string | null;
  side: 'buy' | 'sell';
  type: 'limit' | 'market';
  time_in_force: TimeInForce;
  price_ticks: string;
  quantity_lots: string;
  filled_lots: string;
  status: LiveOrder['status'];
  close_reason: string | null;
  post_only: boolean;
  self_trade_prevention: StpMode;
  expires_at: Date | null;
  hold_micros: string;
  taker_notional_micros: string;
  maker_notional_micros: string;
  fees_micros: string;
  accepted_seq: string;
  priority_seq: string;
  created_at: Date;
}

export const ORDER_COLUMNS = `id, participant_id, instrument, client_order_id, side, type, time_in_force, price_ticks, quantity_lots,
  filled_lots, status, close_reason, post_only, self_trade_prevention, expires_at, hold_micros, taker_notional_micros,
  maker_notional_micros, fees_micros, accepted_seq, priority_seq, created_at`;

/**
 * One copy of each repeated text of the rows read (participant ids, symbols, the enums): the pg
 * driver makes a new string per field, and a book rebuilt with a million orders would otherwise
 * keep a million copies of each (bench:recovery).
 */
const texts = new Map<string, string>();
const MAX_TEXTS = 100_000;
function intern<T extends string>(text: T): T {
  const known = texts.get(text);
  if (known !== undefined) return known as T;
  if (texts.size >= MAX_TEXTS) texts.clear();
  texts.set(text, text);
  return text;
}

/**
 * Money read from a row, with the zeros shared: `BigInt(text)` makes a new heap object each time,
 * and most resting orders have paid no fees and filled nothing, so a million-order book would hold
 * millions of separate zeros (bench:recovery). A `0n` literal is one constant.
 */
const money = (text: string): bigint => (text === '0' ? 0n : BigInt(text));
/** The fee state of an order that has filled nothing: shared, as nothing changes a FeeState in place (orders/core replaces it). */
const NO_FEES: FeeState = Object.freeze({ takerNotional: 0n, makerNotional: 0n });

export function toLiveOrder(r: OrderRecord): LiveOrder {
  return {
    id: Number(r.id),
    participantId: intern(r.participant_id),
    instrument: intern(r.instrument),
    clientOrderId: r.client_order_id,
    side: intern(r.side),
    type: intern(r.type),
    timeInForce: intern(r.time_in_force),
    postOnly: r.post_only,
    stp: intern(r.self_trade_prevention),
    expiresAt: r.expires_at === null ? null : r.expires_at.getTime(),
    priceTicks: Number(r.price_ticks),
    quantity: Number(r.quantity_lots),
    filled: Number(r.filled_lots),
    status: intern(r.status),
    closeReason: r.close_reason,
    hold: money(r.hold_micros),
    fees:
      r.taker_notional_micros === '0' && r.maker_notional_micros === '0'
        ? NO_FEES
        : { takerNotional: BigInt(r.taker_notional_micros), makerNotional: BigInt(r.maker_notional_micros) },
    feesPaid: money(r.fees_micros),
    acceptedSeq: Number(r.accepted_seq),
    prioritySeq: Number(r.priority_seq),
    createdAt: r.created_at,
  };
}
