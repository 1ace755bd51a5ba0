import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { forbidden, invalid, notFound } from '../common/domain-error.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import type { InstrumentSpec } from '../markets/instrument-terms.js';
import { parsePrice, tokensToLots } from '../markets/price.js';
import type { Principal } from '../platform/http/auth.js';
import { SuspensionEffects } from '../participants/suspension-effects.js';
import { requestHash } from '../platform/idempotency/stored-answers.js';
import { BookGateway } from './book-gateway.js';
import { ProductCatalog } from './products.js';
import type { LiveOrder } from './core/live-order.js';
import type { AdminAction } from './core/book-commands.js';
import { ORDER_COLUMNS, type OrderRecord, toLiveOrder } from './order-records.js';
import { type FillFacts, fillView, orderView } from './order-views.js';
import type { AmendOrderDto, FillView, MassCancelView, OrderQuery, OrderView, PlaceOrderDto } from './orders.dto.js';

const ORDER_NOT_FOUND = () => notFound('ORDER_NOT_FOUND', 'no such order');

interface FillRow {
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

/**
 * Order entry: turns API requests (tokens, decimal prices) into engine units (lots, ticks) on the
 * instrument's grid, checks who may do what, and hands commands to the book's gateway, which
 * answers only once the result is committed.
 */
@Injectable()
export class OrdersService implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly books: BookGateway,
    private readonly products: ProductCatalog,
    private readonly suspension: SuspensionEffects,
  ) {}

  /** A suspended participant's open orders are cancelled on every book, as its own cancel-all would. */
  onModuleInit(): void {
    this.suspension.cancelsOrders(async (participantId) => (await this.cancelAllOf(participantId)).cancelled.map((o) => o.id));
  }

  /**
   * With an `Idempotency-Key`, the book's writer decides repeats and stores the answer in the
   * order's own commit, so the answer is the committed one and a retry in flight places nothing.
   */
  async place(actor: Principal, dto: PlaceOrderDto, idempotencyKey?: string): Promise<{ statusCode: number; order: OrderView; replayed: boolean }> {
    const spec = await this.books.instrument(dto.instrument);
    // Spot: providers sell capacity, buyers buy (market-rules §4). Forwards: either side, the position decides (§6).
    const role = this.products.shellFor(spec.kind).rules.roleToPlace(dto.side);
    if (role && !actor.roles.includes(role)) throw forbidden('ROLE_REQUIRED', `${dto.side} orders on ${spec.symbol} need the ${role} role`);
    const lots = tokensToLots(dto.quantity, spec);
    if (!lots.ok) throw invalid('VALIDATION_FAILED', `quantity ${lots.reason}`, { fields: ['quantity'] });
    let priceTicks: number | undefined;
    if (dto.type === 'market' && dto.price !== undefined) throw invalid('VALIDATION_FAILED', 'price must be absent for a market order', { fields: ['price'] });
    if (dto.type === 'limit') {
      const price = parsePrice(dto.price!, spec);
      if (!price.ok || price.value === 0) throw invalid('VALIDATION_FAILED', `price ${price.ok ? 'must be above zero' : price.reason}`, { fields: ['price'] });
      priceTicks = price.value;
    }
    const timeInForce = dto.timeInForce ?? (dto.type === 'market' ? 'IOC' : 'GTC');
    if (dto.expiresAt !== undefined && timeInForce !== 'GTD') throw invalid('VALIDATION_FAILED', 'expiresAt is only for timeInForce GTD', { fields: ['expiresAt'] });
    const expiresAt = dto.expiresAt === undefined ? undefined : Date.parse(dto.expiresAt);
    if (expiresAt !== undefined && expiresAt <= Date.now()) throw invalid('VALIDATION_FAILED', 'expiresAt must be in the future', { fields: ['expiresAt'] });

    const result = await this.books.submit(dto.instrument, {
      kind: 'place',
      participantId: actor.participantId,
      side: dto.side,
      type: dto.type,
      timeInForce,
      ...(priceTicks !== undefined ? { priceTicks } : {}),
      lots: lots.value,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      postOnly: dto.postOnly ?? false,
      stp: dto.selfTradePrevention ?? 'cancel_taker',
      ...(dto.clientOrderId !== undefined ? { clientOrderId: dto.clientOrderId } : {}),
      ...(idempotencyKey !== undefined ? { idempotency: { key: idempotencyKey, requestHash: requestHash({ route: 'POST /v1/orders', body: dto }) } } : {}),
    });
    if (result.answer) return { statusCode: result.answer.statusCode, order: result.answer.body as OrderView, replayed: result.answer.replayed };
    if (result.duplicateOf !== undefined) return { statusCode: 200, order: await this.get(actor, String(result.duplicateOf)), replayed: false };
    return { statusCode: 201, order: orderView(result.order!, spec, result.fills), replayed: false };
  }

  async amend(actor: Principal, id: string, dto: AmendOrderDto): Promise<OrderView> {
    if (dto.price === undefined && dto.quantity === undefined) {
      throw invalid('VALIDATION_FAILED', 'an amend needs a new price or a new quantity', { fields: ['price', 'quantity'] });
    }
    const order = await this.owned(actor, id);
    const spec = await this.instrument(order.instrument);
    let priceTicks: number | undefined;
    if (dto.price !== undefined) {
      const price = parsePrice(dto.price, spec);
      if (!price.ok || price.value === 0) throw invalid('VALIDATION_FAILED', `price ${price.ok ? 'must be above zero' : price.reason}`, { fields: ['price'] });
      priceTicks = price.value;
    }
    let lots: number | undefined;
    if (dto.quantity !== undefined) {
      const parsed = tokensToLots(dto.quantity, spec);
      if (!parsed.ok) throw invalid('VALIDATION_FAILED', `quantity ${parsed.reason}`, { fields: ['quantity'] });
      lots = parsed.value;
    }
    const result = await this.books.submit(order.instrument, { kind: 'amend', participantId: actor.participantId, orderId: order.id, priceTicks, lots });
    return orderView(result.order!, spec, result.fills);
  }

  async cancel(actor: Principal, id: string): Promise<OrderView> {
    const order = await this.owned(actor, id);
    const spec = await this.instrument(order.instrument);
    const result = await this.books.submit(order.instrument, { kind: 'cancel', participantId: actor.participantId, orderId: order.id });
    return orderView(result.order!, spec, []);
  }

  /** Cancels the caller's open orders, on one instrument or on all. */
  cancelAll(actor: Principal, instrument?: string): Promise<MassCancelView> {
    return this.cancelAllOf(actor.participantId, instrument);
  }

  /** An admin cancels any participant's order, through its book; the reason is audited in the cancel's commit. */
  async adminCancel(actor: Principal, id: string, reason: string): Promise<OrderView> {
    if (!/^[1-9]\d{0,17}$/.test(id)) throw invalid('VALIDATION_FAILED', 'id must be an order id', { fields: ['id'] });
    const [row]: Array<{ participant_id: string; instrument: string }> = await this.dataSource.query(`SELECT participant_id, instrument FROM orders WHERE id = $1`, [id]);
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
    const order = await this.owned(actor, id);
    const spec = await this.instrument(order.instrument);
    const fills = await this.fillsOfOrders([order.id]);
    return orderView(order, spec, fills);
  }

  /** The caller's order by its clientOrderId, with its fills (the unique index finds it); anyone else's is not found. */
  async byClientOrderId(actor: Principal, clientOrderId: string): Promise<OrderView> {
    const [row]: OrderRecord[] = await this.dataSource.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE participant_id = $1 AND client_order_id = $2`, [
      actor.participantId,
      clientOrderId,
    ]);
    if (!row) throw ORDER_NOT_FOUND();
    return this.get(actor, row.id);
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
      return fillView(fromRow(r), side, r.instrument, specs.get(r.instrument)!);
    });
  }

  private instrument(symbol: string): Promise<InstrumentSpec> {
    return this.books.instrument(symbol);
  }

  /** The caller's order; anyone else's is not found. */
  private async owned(actor: Principal, id: string): Promise<LiveOrder> {
    if (!/^[1-9]\d{0,17}$/.test(id)) throw invalid('VALIDATION_FAILED', 'id must be an order id', { fields: ['id'] });
    const [row]: OrderRecord[] = await this.dataSource.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1 AND participant_id = $2`, [
      id,
      actor.participantId,
    ]);
    if (!row) throw ORDER_NOT_FOUND();
    return toLiveOrder(row);
  }

  private async fillsOfOrders(ids: number[]): Promise<FillFacts[]> {
    const rows: FillRow[] = await this.dataSource.query(
      `SELECT * FROM fills WHERE maker_order_id = ANY($1::bigint[]) OR taker_order_id = ANY($1::bigint[]) ORDER BY seq, id`,
      [ids.map(String)],
    );
    return rows.map(fromRow);
  }
}

function fromRow(r: FillRow): FillFacts {
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
