import type { DataSource } from 'typeorm';
import type { InstrumentSpec } from '../markets/instrument-terms.js';
import { type BookSnapshot, FastOrderBook, type RestingOrder, SNAPSHOT_VERSION } from '../matching/index.js';
import { type LiveOrder, openLots } from './core/live-order.js';
import type { BookState } from './core/plan-batch.js';
import { ORDER_COLUMNS, type OrderRecord, toLiveOrder } from './order-records.js';
import type { ProductShell } from './products.js';

/**
 * Rebuilds a book from PostgreSQL, the only truth: its open orders in price-time priority (the
 * engine's snapshot format), its live orders with their money, and the book's position (last
 * sequence and reference price), and what its product keeps besides (forwards: positions). Run when a process takes a book and after a failed batch.
 */
export async function loadBook(dataSource: DataSource, spec: InstrumentSpec, product: ProductShell): Promise<BookState> {
  const terms = spec;
  const { symbol } = terms;
  const manager = dataSource.manager;
  await manager.query(`INSERT INTO instrument_books (instrument) VALUES ($1) ON CONFLICT DO NOTHING`, [symbol]);
  const [[position], rows, [{ max }]]: [Array<{ last_seq: string; reference_price_ticks: string | null }>, OrderRecord[], Array<{ max: string }>] = await Promise.all([
    manager.query(`SELECT last_seq, reference_price_ticks FROM instrument_books WHERE instrument = $1`, [symbol]),
    manager.query(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE instrument = $1 AND status = 'open'
        ORDER BY side, CASE WHEN side = 'buy' THEN -price_ticks ELSE price_ticks END, priority_seq, id`,
      [symbol],
    ),
    manager.query(`SELECT coalesce(max(id), 0)::text AS max FROM orders WHERE instrument = $1`, [symbol]),
  ]);
  const orders = new Map<number, LiveOrder>();
  const resting = (side: 'buy' | 'sell'): RestingOrder[] =>
    rows
      .filter((r) => r.side === side)
      .map((r) => {
        const order = toLiveOrder(r);
        orders.set(order.id, order);
        return {
          orderId: order.id,
          owner: order.participantId,
          side: order.side,
          priceTicks: order.priceTicks,
          quantity: order.quantity,
          remaining: openLots(order),
          timeInForce: order.timeInForce as 'GTC' | 'GTD',
          ...(order.expiresAt !== null ? { expiresAt: order.expiresAt } : {}),
          postOnly: order.postOnly,
          stp: order.stp,
        };
      });
  const snapshot: BookSnapshot = {
    version: SNAPSHOT_VERSION,
    config: { collarBps: terms.collarBps },
    lastSequence: Number(position.last_seq),
    lastOrderId: Number(max),
    ...(position.reference_price_ticks !== null ? { referencePriceTicks: Number(position.reference_price_ticks) } : {}),
    bids: resting('buy'),
    asks: resting('sell'),
  };
  const state: BookState = { symbol, book: FastOrderBook.restore(snapshot), orders };
  return { ...state, product: await product.load(dataSource, spec, state) };
}
