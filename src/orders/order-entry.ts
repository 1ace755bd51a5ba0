import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { forbidden, invalid } from '../common/domain-error.js';
import { parsePrice, type PriceGrid, tokensToLots } from '../markets/price.js';
import type { Principal } from '../platform/http/auth.js';
import { requestHash } from '../platform/idempotency/stored-answers.js';
import { BookGateway } from './book-gateway.js';
import type { BookCommand, CommandResult } from './core/book-commands.js';
import { readFillsOfOrders, readOrderByClientId, readOwnedOrder } from './order-reads.js';
import { orderView } from './order-views.js';
import type { AmendOrderDto, OrderView, PlaceOrderDto } from './orders.dto.js';
import { ProductCatalog } from './products.js';

/** What the client is told once its command is committed. */
export interface Entered {
  readonly statusCode: number;
  readonly order: OrderView;
  /** The first answer to this `Idempotency-Key` again, not a new execution. */
  readonly replayed: boolean;
}

/** A command checked against its instrument and its owner, ready for its book. */
export interface PreparedCommand {
  readonly instrument: string;
  readonly command: BookCommand;
  /** The client's answer, from what the book committed. */
  readonly answer: (result: CommandResult) => Promise<Entered>;
}

/** Which of the caller's orders a cancel is about. */
export type OrderRef = { readonly orderId: string; readonly clientOrderId?: undefined } | { readonly clientOrderId: string; readonly orderId?: undefined };

/** The order a cancel names: by orderId or by clientOrderId, one of the two (fields named under `at`). */
export function orderRefOf(dto: { readonly orderId?: string; readonly clientOrderId?: string }, at?: string): OrderRef {
  if ((dto.orderId === undefined) === (dto.clientOrderId === undefined)) {
    const fields = ['orderId', 'clientOrderId'].map((f) => (at ? `${at}.${f}` : f));
    throw invalid('VALIDATION_FAILED', `${at ? `${at}: ` : ''}a cancel names its order by orderId or by clientOrderId, one of the two`, { fields });
  }
  return dto.orderId !== undefined ? { orderId: dto.orderId } : { clientOrderId: dto.clientOrderId! };
}

/** An `Idempotency-Key` as the book's writer decides it: the key, and the hash of what it was sent with. */
export interface KeyedRequest {
  readonly key: string;
  readonly requestHash: string;
}

/**
 * Order entry, whichever way it comes in (REST, a batch, the WebSocket): turns a client's place,
 * amend or cancel (tokens, decimal prices, order ids) into a book command in engine units (lots,
 * ticks) on the instrument's grid, after checking who may do it, and the committed result into
 * the client's answer. Preparing and submitting are apart so that a batch can prepare all its
 * commands first and then hand them to their books in the order given.
 */
@Injectable()
export class OrderEntry {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly books: BookGateway,
    private readonly products: ProductCatalog,
  ) {}

  /** `POST /v1/orders`; with an `Idempotency-Key`, the book's writer stores the answer in the order's own commit. */
  async place(actor: Principal, dto: PlaceOrderDto, idempotencyKey?: string): Promise<Entered> {
    const keyed = idempotencyKey === undefined ? undefined : { key: idempotencyKey, requestHash: requestHash({ route: 'POST /v1/orders', body: dto }) };
    return this.submit(await this.preparePlace(actor, dto, keyed));
  }

  async amend(actor: Principal, id: string, dto: AmendOrderDto): Promise<Entered> {
    return this.submit(await this.prepareAmend(actor, id, dto));
  }

  async cancel(actor: Principal, ref: OrderRef): Promise<Entered> {
    return this.submit(await this.prepareCancel(actor, ref));
  }

  /** Hands a prepared command to its book; answers once the book has committed it. */
  submit(prepared: PreparedCommand): Promise<Entered> {
    return this.books.submit(prepared.instrument, prepared.command).then(prepared.answer);
  }

  async preparePlace(actor: Principal, dto: PlaceOrderDto, keyed?: KeyedRequest): Promise<PreparedCommand> {
    const spec = await this.books.instrument(dto.instrument);
    // Spot: providers sell capacity, buyers buy (market-rules §4). Forwards: either side, the position decides (§6).
    const role = this.products.shellFor(spec.kind).rules.roleToPlace(dto.side);
    if (role && !actor.roles.includes(role)) throw forbidden('ROLE_REQUIRED', `${dto.side} orders on ${spec.symbol} need the ${role} role`);
    const lots = tokensToLots(dto.quantity, spec);
    if (!lots.ok) throw invalid('VALIDATION_FAILED', `quantity ${lots.reason}`, { fields: ['quantity'] });
    let priceTicks: number | undefined;
    if (dto.type === 'market' && dto.price !== undefined) throw invalid('VALIDATION_FAILED', 'price must be absent for a market order', { fields: ['price'] });
    if (dto.type === 'limit') priceTicks = this.priceTicks(dto.price!, spec);
    const timeInForce = dto.timeInForce ?? (dto.type === 'market' ? 'IOC' : 'GTC');
    if (dto.expiresAt !== undefined && timeInForce !== 'GTD') throw invalid('VALIDATION_FAILED', 'expiresAt is only for timeInForce GTD', { fields: ['expiresAt'] });
    const expiresAt = dto.expiresAt === undefined ? undefined : Date.parse(dto.expiresAt);
    if (expiresAt !== undefined && expiresAt <= Date.now()) throw invalid('VALIDATION_FAILED', 'expiresAt must be in the future', { fields: ['expiresAt'] });

    const command: BookCommand = {
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
      ...(keyed ? { idempotency: keyed } : {}),
    };
    const answer = async (result: CommandResult): Promise<Entered> => {
      if (result.answer) return { statusCode: result.answer.statusCode, order: result.answer.body as OrderView, replayed: result.answer.replayed };
      // A repeated clientOrderId: the first order, as it is now, with all its fills.
      if (result.duplicateOf !== undefined) {
        const first = await readOwnedOrder(this.dataSource, actor.participantId, String(result.duplicateOf));
        return { statusCode: 200, order: orderView(first, spec, await readFillsOfOrders(this.dataSource, [first.id])), replayed: false };
      }
      return { statusCode: 201, order: orderView(result.order!, spec, result.fills), replayed: false };
    };
    return { instrument: dto.instrument, command, answer };
  }

  async prepareAmend(actor: Principal, id: string, dto: AmendOrderDto, idField = 'id'): Promise<PreparedCommand> {
    if (dto.price === undefined && dto.quantity === undefined) {
      throw invalid('VALIDATION_FAILED', 'an amend needs a new price or a new quantity', { fields: ['price', 'quantity'] });
    }
    const order = await readOwnedOrder(this.dataSource, actor.participantId, id, idField);
    const spec = await this.books.instrument(order.instrument);
    const priceTicks = dto.price === undefined ? undefined : this.priceTicks(dto.price, spec);
    let lots: number | undefined;
    if (dto.quantity !== undefined) {
      const parsed = tokensToLots(dto.quantity, spec);
      if (!parsed.ok) throw invalid('VALIDATION_FAILED', `quantity ${parsed.reason}`, { fields: ['quantity'] });
      lots = parsed.value;
    }
    return {
      instrument: order.instrument,
      command: { kind: 'amend', participantId: actor.participantId, orderId: order.id, priceTicks, lots },
      answer: async (result) => ({ statusCode: 200, order: orderView(result.order!, spec, result.fills), replayed: false }),
    };
  }

  async prepareCancel(actor: Principal, ref: OrderRef, idField = 'id'): Promise<PreparedCommand> {
    const order =
      ref.orderId !== undefined
        ? await readOwnedOrder(this.dataSource, actor.participantId, ref.orderId, idField)
        : await readOrderByClientId(this.dataSource, actor.participantId, ref.clientOrderId);
    const spec = await this.books.instrument(order.instrument);
    return {
      instrument: order.instrument,
      command: { kind: 'cancel', participantId: actor.participantId, orderId: order.id },
      answer: async (result) => ({ statusCode: 200, order: orderView(result.order!, spec, []), replayed: false }),
    };
  }

  private priceTicks(price: string, spec: PriceGrid): number {
    const parsed = parsePrice(price, spec);
    if (!parsed.ok || parsed.value === 0) throw invalid('VALIDATION_FAILED', `price ${parsed.ok ? 'must be above zero' : parsed.reason}`, { fields: ['price'] });
    return parsed.value;
  }
}
