import type { DataSource } from 'typeorm';
import type { InstrumentTerms } from '../markets/instrument-terms.js';
import { postTransfersSql } from '../ledger/ledger.repository.js';
import { CHECK_VIOLATION, sqlStateOf } from '../platform/database/pg-errors.js';
import { arrayLiteral, literal } from '../platform/database/sql-literals.js';
import { runScript } from '../platform/database/sql-script.js';
import type { FillRecord } from './core/batch-money.js';
import type { LiveOrder } from './core/live-order.js';
import type { BatchPlan } from './core/plan-batch.js';

/** The advisory lock key every batch of a book holds shared while it commits, for a symbol given as SQL. */
export const bookWriteLock = (symbolSql: string) => `hashtext('tokex:book-write:' || ${symbolSql})`;
/** The same key with the symbol as parameter $1. */
export const BOOK_WRITE_LOCK = bookWriteLock('$1');


/** A balance changed between the optimistic pre-read and the commit; the batch runs again. */
export class BalanceMovedError extends Error {
  constructor(constraint: string) {
    super(`an account would be overdrawn (${constraint})`);
  }
}

/**
 * The script that commits a plan in one transaction and one round trip (simple protocol): the
 * book's write lock (shared: a new owner takes it exclusively to wait out a dead owner's last
 * batch), the ledger's transfers (accounts locked once, in id order), the orders, fills and book
 * position, and the statements of the modules that own each product effect (spot: deliveries, then
 * their escrow settlement records; forwards: positions and marks), given by the product's shell as
 * `effects`. Built as soon as the plan is made: the writer plans the next batch on the same live
 * orders while this one commits.
 */
export function commitScript(terms: InstrumentTerms, plan: BatchPlan, effects: readonly string[]): string {
  const { symbol } = terms;
  return [
    'BEGIN',
    `SELECT pg_advisory_xact_lock_shared(${bookWriteLock(literal(symbol))})`,
    ...postTransfersSql(plan.transfers),
    writeBookSql(plan, symbol),
    ...effects,
    'COMMIT',
  ].join(';\n');
}

/**
 * Runs a commit script. The overdraft check happens here, in PostgreSQL: `postTransfersSql` judges
 * every account at the worst point the batch takes it to, applying the transfers in order as the
 * ledger core does, and an account that would be overdrawn at any point fails its CHECK constraint
 * (SQLSTATE 23514). The whole script then fails, nothing of the batch is committed, and the writer
 * runs the batch again from fresh balances (BalanceMovedError). The planner's check against
 * balances read before the batch is only an optimistic pre-check, and the differential test in
 * test/integration/ledger-differential.test.ts holds the SQL path equal to the core's rules.
 */
export async function commitPlan(dataSource: DataSource, script: string): Promise<void> {
  try {
    await runScript(dataSource, script);
  } catch (error) {
    if (sqlStateOf(error) === CHECK_VIOLATION) throw new BalanceMovedError(String((error as { constraint?: string }).constraint));
    throw error;
  }
}

/** The batch's orders (inserted or updated), its fills and the book's new position, in one statement. */
export function writeBookSql(plan: Pick<BatchPlan, 'orders' | 'fills' | 'seq' | 'referencePriceTicks'>, symbolText: string): string {
  const { orders, fills } = plan;
  const order = (type: string, f: (o: LiveOrder) => string | number | boolean | null) => arrayLiteral(orders.map(f), type);
  const fill = (type: string, f: (x: FillRecord) => string | number | null) => arrayLiteral(fills.map(f), type);
  const symbol = literal(symbolText);
  return `WITH written_orders AS (
       INSERT INTO orders (id, participant_id, instrument, client_order_id, side, type, time_in_force, price_ticks, quantity_lots,
                           filled_lots, status, close_reason, post_only, self_trade_prevention, expires_at, hold_micros,
                           taker_notional_micros, maker_notional_micros, fees_micros, accepted_seq, priority_seq, created_at)
       SELECT * FROM unnest(${order('bigint', (o) => o.id)}, ${order('uuid', (o) => o.participantId)}, ${order('text', (o) => o.instrument)},
                            ${order('text', (o) => o.clientOrderId)}, ${order('text', (o) => o.side)}, ${order('text', (o) => o.type)},
                            ${order('text', (o) => o.timeInForce)}, ${order('bigint', (o) => o.priceTicks)}, ${order('bigint', (o) => o.quantity)},
                            ${order('bigint', (o) => o.filled)}, ${order('text', (o) => o.status)}, ${order('text', (o) => o.closeReason)},
                            ${order('boolean', (o) => o.postOnly)}, ${order('text', (o) => o.stp)},
                            ${order('timestamptz', (o) => (o.expiresAt === null ? null : new Date(o.expiresAt).toISOString()))},
                            ${order('bigint', (o) => String(o.hold))}, ${order('bigint', (o) => String(o.fees.takerNotional))},
                            ${order('bigint', (o) => String(o.fees.makerNotional))}, ${order('bigint', (o) => String(o.feesPaid))},
                            ${order('bigint', (o) => o.acceptedSeq)}, ${order('bigint', (o) => o.prioritySeq)},
                            ${order('timestamptz', (o) => o.createdAt.toISOString())})
       ON CONFLICT (id) DO UPDATE SET
         price_ticks = excluded.price_ticks, quantity_lots = excluded.quantity_lots, filled_lots = excluded.filled_lots,
         status = excluded.status, close_reason = excluded.close_reason, hold_micros = excluded.hold_micros,
         taker_notional_micros = excluded.taker_notional_micros, maker_notional_micros = excluded.maker_notional_micros,
         fees_micros = excluded.fees_micros, priority_seq = excluded.priority_seq, updated_at = now()
       RETURNING 1
     ), written_fills AS (
       INSERT INTO fills (instrument, id, seq, maker_order_id, taker_order_id, buyer_id, seller_id, taker_side, price_ticks,
                          quantity_lots, notional_micros, buyer_fee_micros, seller_fee_micros, created_at)
       SELECT ${symbol}, * FROM unnest(${fill('text', (f) => f.id)}, ${fill('bigint', (f) => f.seq)}, ${fill('bigint', (f) => f.makerOrderId)},
                                   ${fill('bigint', (f) => f.takerOrderId)}, ${fill('uuid', (f) => f.buyerId)}, ${fill('uuid', (f) => f.sellerId)},
                                   ${fill('text', (f) => f.takerSide)}, ${fill('bigint', (f) => f.priceTicks)}, ${fill('bigint', (f) => f.lots)},
                                   ${fill('bigint', (f) => String(f.notional))}, ${fill('bigint', (f) => String(f.buyerFee))},
                                   ${fill('bigint', (f) => String(f.sellerFee))}, ${fill('timestamptz', (f) => f.createdAt.toISOString())})
       RETURNING 1
     )
     UPDATE instrument_books SET last_seq = ${plan.seq}, reference_price_ticks = ${plan.referencePriceTicks ?? 'NULL'},
            updated_at = now()
      WHERE instrument = ${symbol}`;
}
