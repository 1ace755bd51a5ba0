import type { RestingOrder, StpMode, TimeInForce } from '../matching/index.js';
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
 * driver, or a split, makes a new string per field, and a book rebuilt with a million orders would otherwise
 * keep a million copies of each (bench:recovery).
 */
const texts = new Map<string, string>();
const MAX_TEXTS = 100_000;
function intern<T extends string>(text: T): T {
  const kept = texts.get(text);
  if (kept !== undefined) return kept as T;
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

/**
 * A book's open orders as its load reads them (`streamRows`): the order's fixed-format fields in
 * one text (`OrderLineFields`, split on spaces: ids, enums, numbers and a uuid never hold one),
 * then the two free texts. The driver's work is per field, and a million-order load spent most of
 * its time in it with one column a field; times are epoch milliseconds, which PostgreSQL works out
 * faster than the driver parses a timestamp. The instrument is the book's.
 */
export const OPEN_ORDER_COLUMNS = `concat_ws(' ', id, participant_id, side, type, time_in_force, price_ticks, quantity_lots, filled_lots,
  status, post_only, self_trade_prevention, coalesce(floor(extract(epoch FROM expires_at) * 1000)::int8::text, '-'), hold_micros,
  taker_notional_micros, maker_notional_micros, fees_micros, accepted_seq, priority_seq, floor(extract(epoch FROM created_at) * 1000)::int8),
  client_order_id, close_reason`;

/** One row of OPEN_ORDER_COLUMNS. */
export type OpenOrderRow = [line: string, clientOrderId: string | null, closeReason: string | null];

/**
 * The fields of an order's line, in order, each as PostgreSQL prints it (`post_only` as `t` or `f`,
 * a missing expiry as `-`).
 */
type OrderLineFields = [
  id: string,
  participantId: string,
  side: string,
  type: string,
  timeInForce: string,
  priceTicks: string,
  quantityLots: string,
  filledLots: string,
  status: string,
  postOnly: string,
  stp: string,
  expiresAtMs: string,
  holdMicros: string,
  takerNotionalMicros: string,
  makerNotionalMicros: string,
  feesMicros: string,
  acceptedSeq: string,
  prioritySeq: string,
  createdAtMs: string,
];

/** How many leading fields of the line the engine needs (through `expiresAtMs`). */
const ENGINE_FIELDS = 12;

/**
 * What the engine keeps of a loaded open order, read from the front of its line only: a load
 * builds one of these per resting order, and the whole line is read again only when its live
 * order is asked for. The enums are compared, not interned (only GTC and GTD orders rest).
 */
export function restingOrderOf(line: string): RestingOrder {
  const f = line.split(' ', ENGINE_FIELDS) as Partial<OrderLineFields> as OrderLineFields;
  const quantity = Number(f[6]);
  return {
    orderId: Number(f[0]),
    owner: intern(f[1]),
    side: f[2] === 'buy' ? 'buy' : 'sell',
    priceTicks: Number(f[5]),
    quantity,
    remaining: quantity - Number(f[7]),
    timeInForce: f[4] === 'GTD' ? 'GTD' : 'GTC',
    ...(f[11] !== '-' && { expiresAt: Number(f[11]) }),
    postOnly: f[9] === 't',
    stp: f[10] === 'cancel_taker' ? 'cancel_taker' : f[10] === 'cancel_maker' ? 'cancel_maker' : 'cancel_both',
  };
}

/** The live order of a book's load row; the instrument is the book's. */
export const liveOrderOfRow = ([line, clientOrderId, closeReason]: OpenOrderRow, instrument: string): LiveOrder =>
  fromFields(line.split(' ') as OrderLineFields, clientOrderId, closeReason, instrument);

function fromFields(f: OrderLineFields, clientOrderId: string | null, closeReason: string | null, instrument: string): LiveOrder {
  return {
    id: Number(f[0]),
    participantId: intern(f[1]),
    instrument: intern(instrument),
    clientOrderId,
    side: intern(f[2] as LiveOrder['side']),
    type: intern(f[3] as LiveOrder['type']),
    timeInForce: intern(f[4] as TimeInForce),
    postOnly: f[9] === 't',
    stp: intern(f[10] as StpMode),
    expiresAt: f[11] === '-' ? null : Number(f[11]),
    priceTicks: Number(f[5]),
    quantity: Number(f[6]),
    filled: Number(f[7]),
    status: intern(f[8] as LiveOrder['status']),
    closeReason,
    hold: money(f[12]),
    fees: f[13] === '0' && f[14] === '0' ? NO_FEES : { takerNotional: BigInt(f[13]), makerNotional: BigInt(f[14]) },
    feesPaid: money(f[15]),
    acceptedSeq: Number(f[16]),
    prioritySeq: Number(f[17]),
    createdAt: new Date(Number(f[18])),
  };
}

/** An order read as a row object (single reads): the same conversion as a book's load. */
export function toLiveOrder(r: OrderRecord): LiveOrder {
  const fields: OrderLineFields = [
    r.id, r.participant_id, r.side, r.type, r.time_in_force, r.price_ticks, r.quantity_lots, r.filled_lots, r.status,
    r.post_only ? 't' : 'f', r.self_trade_prevention, r.expires_at === null ? '-' : String(r.expires_at.getTime()), r.hold_micros,
    r.taker_notional_micros, r.maker_notional_micros, r.fees_micros, r.accepted_seq, r.priority_seq, String(r.created_at.getTime()),
  ];
  return fromFields(fields, r.client_order_id, r.close_reason, r.instrument);
}
