import type { DataSource } from 'typeorm';
import type { InstrumentSpec } from '../markets/instrument-terms.js';
import { FastOrderBook } from '../matching/index.js';
import { streamRows } from '../platform/database/stream-rows.js';
import { type LiveOrder, openLots } from './core/live-order.js';
import type { BookState } from './core/plan-batch.js';
import { liveOrderOf, OPEN_ORDER_COLUMNS, type OpenOrderRow } from './order-records.js';
import type { ProductShell } from './products.js';

/**
 * Rebuilds a book from PostgreSQL, the only truth: its open orders in price-time priority, its
 * live orders with their money, the book's position (last sequence and reference price), and what
 * its product keeps besides (forwards: positions). Run when a process takes a book and after a
 * failed batch.
 *
 * Each row becomes its live order and its place in the engine as it arrives, so nothing but those
 * two outlives it: a million resting orders load in seconds (bench:recovery, docs/benchmarks.md).
 */
export async function loadBook(dataSource: DataSource, spec: InstrumentSpec, product: ProductShell): Promise<BookState> {
  const { symbol } = spec;
  const manager = dataSource.manager;
  await manager.query(`INSERT INTO instrument_books (instrument) VALUES ($1) ON CONFLICT DO NOTHING`, [symbol]);
  const orders = new Map<number, LiveOrder>();
  const restoring = FastOrderBook.restoring({ collarBps: spec.collarBps });
  const [[position], , [{ max }]]: [Array<{ last_seq: string; reference_price_ticks: string | null }>, number, Array<{ max: string }>] = await Promise.all([
    manager.query(`SELECT last_seq, reference_price_ticks FROM instrument_books WHERE instrument = $1`, [symbol]),
    streamRows(
      dataSource,
      `SELECT ${OPEN_ORDER_COLUMNS} FROM orders WHERE instrument = $1 AND status = 'open'
        ORDER BY side, CASE WHEN side = 'buy' THEN -price_ticks ELSE price_ticks END, priority_seq, id`,
      [symbol],
      (row) => {
        const order = liveOrderOf(row as OpenOrderRow, symbol);
        orders.set(order.id, order);
        restoring.add({
          orderId: order.id,
          owner: order.participantId,
          side: order.side,
          priceTicks: order.priceTicks,
          quantity: order.quantity,
          remaining: openLots(order),
          timeInForce: order.timeInForce as 'GTC' | 'GTD',
          expiresAt: order.expiresAt ?? undefined,
          postOnly: order.postOnly,
          stp: order.stp,
        });
      },
    ),
    manager.query(`SELECT coalesce(max(id), 0)::text AS max FROM orders WHERE instrument = $1`, [symbol]),
  ]);
  const book = restoring.finish({
    lastSequence: Number(position.last_seq),
    lastOrderId: Number(max),
    ...(position.reference_price_ticks !== null ? { referencePriceTicks: Number(position.reference_price_ticks) } : {}),
  });
  const state: BookState = { symbol, book, orders };
  return { ...state, product: await product.load(dataSource, spec, state) };
}
