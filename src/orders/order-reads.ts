import type { DataSource } from 'typeorm';
import { invalid, notFound } from '../common/domain-error.js';
import type { LiveOrder } from './core/live-order.js';
import { ORDER_COLUMNS, type OrderRecord, toLiveOrder } from './order-records.js';
import type { FillFacts } from './order-views.js';
import { ORDER_ID } from './orders.dto.js';

/** Orders and fills as their owner reads them: anyone else's order is not found (never forbidden). */
export const ORDER_NOT_FOUND = () => notFound('ORDER_NOT_FOUND', 'no such order');

/** An order id from a path or a message, checked before it reaches SQL. */
export function checkOrderId(id: string, field = 'id'): string {
  if (!ORDER_ID.test(id)) throw invalid('VALIDATION_FAILED', `${field} must be an order id`, { fields: [field] });
  return id;
}

/** The participant's order with this id; anyone else's is not found. */
export async function readOwnedOrder(dataSource: DataSource, participantId: string, id: string, field = 'id'): Promise<LiveOrder> {
  const [row]: OrderRecord[] = await dataSource.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1 AND participant_id = $2`, [checkOrderId(id, field), participantId]);
  if (!row) throw ORDER_NOT_FOUND();
  return toLiveOrder(row);
}

/** The participant's order with this clientOrderId (the unique index finds it). */
export async function readOrderByClientId(dataSource: DataSource, participantId: string, clientOrderId: string): Promise<LiveOrder> {
  const [row]: OrderRecord[] = await dataSource.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE participant_id = $1 AND client_order_id = $2`, [
    participantId,
    clientOrderId,
  ]);
  if (!row) throw ORDER_NOT_FOUND();
  return toLiveOrder(row);
}

/** A `fills` row as SQL returns it (bigints as text). */
export interface FillRow {
  id: string;
  instrument: string;
  maker_order_id: string;
  taker_order_id: string;
  buyer_id: string;
  seller_id: string;
  taker_side: 'buy' | 'sell';
  price_ticks: string;
  quantity_lots: string;
  notional_micros: string;
  buyer_fee_micros: string;
  seller_fee_micros: string;
  created_at: Date;
  seq: string;
}

/** Every fill of the given orders, in the order they happened. */
export async function readFillsOfOrders(dataSource: DataSource, ids: readonly number[]): Promise<FillFacts[]> {
  const rows: FillRow[] = await dataSource.query(
    `SELECT * FROM fills WHERE maker_order_id = ANY($1::bigint[]) OR taker_order_id = ANY($1::bigint[]) ORDER BY seq, id`,
    [ids.map(String)],
  );
  return rows.map(fillFacts);
}

export function fillFacts(r: FillRow): FillFacts {
  return {
    id: r.id,
    seq: Number(r.seq),
    makerOrderId: Number(r.maker_order_id),
    takerOrderId: Number(r.taker_order_id),
    buyerId: r.buyer_id,
    sellerId: r.seller_id,
    takerSide: r.taker_side,
    priceTicks: Number(r.price_ticks),
    lots: Number(r.quantity_lots),
    notional: BigInt(r.notional_micros),
    buyerFee: BigInt(r.buyer_fee_micros),
    sellerFee: BigInt(r.seller_fee_micros),
    createdAt: r.created_at,
  };
}
