import type { DataSource } from 'typeorm';
import type { InstrumentSpec } from '../markets/instrument-terms.js';
import { FastOrderBook, type OrderBook, type OrderFields } from '../matching/index.js';
import { streamRows } from '../platform/database/stream-rows.js';
import { LiveOrders } from './core/live-orders.js';
import type { BookState } from './core/plan-batch.js';
import { KeptRows } from './kept-rows.js';
import { liveOrderOfRow, OPEN_ORDER_COLUMNS, type OpenOrderRow, restingOrderOf } from './order-records.js';
import type { ProductShell } from './products.js';

/**
 * Rebuilds a book from PostgreSQL, the only truth: its open orders in price-time priority, its
 * live orders with their money, the book's position (last sequence and reference price), and what
 * its product keeps besides (forwards: positions). Run when a process takes a book and after a
 * failed batch.
 *
 * Each row takes its place in the engine as it arrives, and is copied out of the JavaScript heap
 * (`KeptRows`) until a batch first asks for its live order (`LiveOrders`): nothing else outlives
 * it, and a million resting orders load in seconds (bench:recovery, docs/benchmarks.md).
 */
export async function loadBook(dataSource: DataSource, spec: InstrumentSpec, product: ProductShell): Promise<BookState> {
  const { symbol } = spec;
  const manager = dataSource.manager;
  await manager.query(`INSERT INTO instrument_books (instrument) VALUES ($1) ON CONFLICT DO NOTHING`, [symbol]);
  const rows = new KeptRows();
  const orders = new LiveOrders((handle) => liveOrderOfRow(rows.read(handle as number), symbol));
  const restoring = FastOrderBook.restoring({ collarBps: spec.collarBps });
  // The engine refuses a new order id at or below lastOrderId. Ids come from one sequence (with
  // no per-session cache), and a writer draws its first block only after it has taken the book,
  // so every id it places is above every id already on the book: the open orders' largest is all
  // the guard needs. (The largest of all the book's orders took a scan of the primary key back
  // through every later order of every book: most of a restart's PostgreSQL time, bench:recovery.)
  let lastOrderId = 0;
  const [[position]]: [Array<{ last_seq: string; reference_price_ticks: string | null }>, number] = await Promise.all([
    manager.query(`SELECT last_seq, reference_price_ticks FROM instrument_books WHERE instrument = $1`, [symbol]),
    streamRows(
      dataSource,
      `SELECT ${OPEN_ORDER_COLUMNS} FROM orders WHERE instrument = $1 AND status = 'open'
        ORDER BY side, CASE WHEN side = 'buy' THEN -price_ticks ELSE price_ticks END, priority_seq, id`,
      [symbol],
      (row) => {
        const resting = restingOrderOf((row as OpenOrderRow)[0]);
        restoring.add(resting);
        orders.keep(resting.orderId, rows.keep(row as OpenOrderRow));
        if (resting.orderId > lastOrderId) lastOrderId = resting.orderId;
      },
    ),
  ]);
  const book = restoring.finish({
    lastSequence: Number(position.last_seq),
    lastOrderId,
    ...(position.reference_price_ticks !== null ? { referencePriceTicks: Number(position.reference_price_ticks) } : {}),
  });
  const state: BookState = { symbol, book, orders };
  return { ...state, product: await product.load(dataSource, spec, state) };
}

/** Who owns the book's resting orders, read from the engine without decoding a live order. */
export function restingOwners(book: OrderBook): Set<string> {
  const owners = new Set<string>();
  const add = (order: OrderFields) => owners.add(order.owner);
  book.forEachOrder('buy', add);
  book.forEachOrder('sell', add);
  return owners;
}
