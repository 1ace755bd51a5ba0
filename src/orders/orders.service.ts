import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import type { InstrumentSpec } from '../markets/instrument-terms.js';
import type { Principal } from '../platform/http/auth.js';
import { SuspensionEffects } from '../participants/suspension-effects.js';
import { BookGateway } from './book-gateway.js';
import type { AdminAction } from './core/book-commands.js';
import type { LiveOrder } from './core/live-order.js';
import { ORDER_COLUMNS, type OrderRecord, toLiveOrder } from './order-records.js';
import { checkOrderId, fillFacts, type FillRow, ORDER_NOT_FOUND, readFillsOfOrders, readOrderByClientId, readOwnedOrder } from './order-reads.js';
import { fillView, orderView } from './order-views.js';
import type { FillView, MassCancelView, OrderQuery, OrderView } from './orders.dto.js';

/**
 * The caller's orders and fills, read from PostgreSQL, and the cancels that act on many orders at
 * once (mass cancel, an admin's, a suspension's), through each book's gateway. Single orders come
 * in through OrderEntry.
 */
@Injectable()
export class OrdersService implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly books: BookGateway,
    private readonly suspension: SuspensionEffects,
  ) {}

  /** A suspended participant's open orders are cancelled on every book, as its own cancel-all would. */
  onModuleInit(): void {
    this.suspension.cancelsOrders(async (participantId) => (await this.cancelAllOf(participantId)).cancelled.map((o) => o.id));
  }

  /** Cancels the caller's open orders, on one instrument or on all. */
  cancelAll(actor: Principal, instrument?: string): Promise<MassCancelView> {
    return this.cancelAllOf(actor.participantId, instrument);
  }

  /** An admin cancels any participant's order, through its book; the reason is audited in the cancel's commit. */
  async adminCancel(actor: Principal, id: string, reason: string): Promise<OrderView> {
    const [row]: Array<{ participant_id: string; instrument: string }> = await this.dataSource.query(`SELECT participant_id, instrument FROM orders WHERE id = $1`, [
      checkOrderId(id),
    ]);
    if (!row) throw ORDER_NOT_FOUND();
    const spec = await this.instrument(row.instrument);
    const byAdmin = { actorId: actor.participantId, reason };
    const result = await this.books.submit(row.instrument, { kind: 'cancel', participantId: row.participant_id, orderId: Number(id), byAdmin });
    return orderView(result.order!, spec, []);
  }

  /** Cancels a participant's open orders through each book's gateway: its own cancel-all, its dead-man switch, its suspension, an admin. */
  async cancelAllOf(participantId: string, instrument?: string, byAdmin?: AdminAction): Promise<MassCancelView> {
    const rows: Array<{ instrument: string }> = await this.dataSource.query(
      `SELECT DISTINCT instrument FROM orders WHERE participant_id = $1 AND status = 'open' AND ($2::text IS NULL OR instrument = $2)`,
      [participantId, instrument ?? null],
    );
    const cancelled: OrderView[] = [];
    for (const { instrument: symbol } of rows) {
      const spec = await this.instrument(symbol);
      const result = await this.books.submit(symbol, { kind: 'cancel_all', participantId, ...(byAdmin ? { byAdmin } : {}) });
      cancelled.push(...result.closed.map((o) => orderView(o, spec, [])));
    }
    return { cancelled };
  }

  async get(actor: Principal, id: string): Promise<OrderView> {
    return this.withFills(await readOwnedOrder(this.dataSource, actor.participantId, id));
  }

  /** The caller's order by its clientOrderId, with its fills (the unique index finds it); anyone else's is not found. */
  async byClientOrderId(actor: Principal, clientOrderId: string): Promise<OrderView> {
    return this.withFills(await readOrderByClientId(this.dataSource, actor.participantId, clientOrderId));
  }

  list(actor: Principal, query: OrderQuery): Promise<Page<OrderView>> {
    return this.listOf(actor.participantId, query);
  }

  /** A participant's orders, newest first: its own list, or an admin's view of it. */
  async listOf(participantId: string, query: OrderQuery): Promise<Page<OrderView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['bigint']);
    const rows: OrderRecord[] = await this.dataSource.query(
      `SELECT ${ORDER_COLUMNS} FROM orders
        WHERE participant_id = $1 AND ($2::text IS NULL OR instrument = $2) AND ($3::text IS NULL OR status = $3)
          AND ($4::bigint IS NULL OR id < $4::bigint) AND ($6::text IS NULL OR client_order_id = $6)
        ORDER BY id DESC LIMIT $5`,
      [participantId, query.instrument ?? null, query.status ?? null, before?.[0] ?? null, limit + 1, query.clientOrderId ?? null],
    );
    const specs = new Map<string, InstrumentSpec>();
    for (const r of rows) if (!specs.has(r.instrument)) specs.set(r.instrument, await this.instrument(r.instrument));
    return pageOf(rows, limit, (r) => [r.id], (r) => orderView(toLiveOrder(r), specs.get(r.instrument)!, []));
  }

  async fills(actor: Principal, query: OrderQuery): Promise<Page<FillView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['timestamp', 'text']);
    const rows: Array<FillRow & { cursor_at: string }> = await this.dataSource.query(
      `SELECT *, created_at::text AS cursor_at FROM fills
        WHERE (buyer_id = $1 OR seller_id = $1) AND ($2::text IS NULL OR instrument = $2)
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::text))
        ORDER BY created_at DESC, id DESC LIMIT $5`,
      [actor.participantId, query.instrument ?? null, before?.[0] ?? null, before?.[1] ?? null, limit + 1],
    );
    const specs = new Map<string, InstrumentSpec>();
    for (const r of rows) if (!specs.has(r.instrument)) specs.set(r.instrument, await this.instrument(r.instrument));
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], (r) => {
      const side = r.buyer_id === actor.participantId ? 'buy' : 'sell';
      return fillView(fillFacts(r), side, r.instrument, specs.get(r.instrument)!);
    });
  }

  private async withFills(order: LiveOrder): Promise<OrderView> {
    return orderView(order, await this.instrument(order.instrument), await readFillsOfOrders(this.dataSource, [order.id]));
  }

  private instrument(symbol: string): Promise<InstrumentSpec> {
    return this.books.instrument(symbol);
  }
}
