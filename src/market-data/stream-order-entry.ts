import { Injectable, Logger } from '@nestjs/common';
import { DomainError, forbidden } from '../common/domain-error.js';
import { toErrorBody } from '../platform/http/exception.filter.js';
import { RateLimiter } from '../platform/http/rate-limiter.js';
import { validateItem } from '../platform/http/validation.js';
import { AmendByIdDto, OrderRefDto } from '../orders/order-commands.dto.js';
import { OrderEntry, orderRefOf, type PreparedCommand } from '../orders/order-entry.js';
import { PlaceOrderDto } from '../orders/orders.dto.js';
import type { Principal } from '../platform/http/auth.js';
import type { OrderMessage, RequestId } from './stream-protocol.js';
import type { StreamSession } from './stream-session.js';

/** The answer's op for each order op. */
const DONE = { place: 'placed', amend: 'amended', cancel: 'cancelled' } as const;

/**
 * Order entry over `WS /v1/stream`: `place`, `amend` and `cancel` messages, with the REST bodies'
 * fields and rules (the same DTOs, roles and rate limit), through the same OrderEntry and book
 * gateway. Each is answered once its book has committed it, with the message's `id`:
 * `{"op":"placed","id":...,"statusCode":201,"order":{...}}`, or an error frame carrying the same
 * statusCode, code and message the REST route would answer.
 *
 * A message is checked and handed to its book in the connection's message order (the session's
 * queue), so a connection's commands reach each book in the order sent; waiting for the commit
 * happens outside that queue, so one order in flight does not hold up the next. Refused orders are
 * answers, not protocol errors: they never count towards closing the connection.
 */
@Injectable()
export class StreamOrderEntry {
  private readonly logger = new Logger(StreamOrderEntry.name);

  constructor(
    private readonly entry: OrderEntry,
    private readonly limiter: RateLimiter,
  ) {}

  async handle(session: StreamSession, message: OrderMessage): Promise<void> {
    let prepared: PreparedCommand;
    try {
      const principal = session.principal;
      if (!principal) throw new DomainError('AUTH_REQUIRED', `${message.op} needs {"op":"auth","apiKey":"..."} first`, 'unauthenticated');
      if (!principal.roles.some((role) => role === 'provider' || role === 'buyer')) throw forbidden('ROLE_REQUIRED', 'order entry needs the provider or buyer role');
      await this.limiter.take(principal.participantId);
      prepared = await this.prepare(principal, message);
    } catch (error) {
      return this.refused(session, message.id, error);
    }
    void this.entry.submit(prepared).then(
      ({ statusCode, order }) => session.send({ op: DONE[message.op], id: message.id, statusCode, order }),
      (error: unknown) => this.refused(session, message.id, error),
    );
  }

  private async prepare(principal: Principal, { op, fields }: OrderMessage): Promise<PreparedCommand> {
    if (op === 'place') return this.entry.preparePlace(principal, await validateItem(PlaceOrderDto, fields));
    if (op === 'amend') {
      const { orderId, ...amend } = await validateItem(AmendByIdDto, fields);
      return this.entry.prepareAmend(principal, orderId, amend, 'orderId');
    }
    return this.entry.prepareCancel(principal, orderRefOf(await validateItem(OrderRefDto, fields)), 'orderId');
  }

  private refused(session: StreamSession, id: RequestId, error: unknown): void {
    if (!(error instanceof DomainError)) this.logger.error({ err: error }, 'stream order entry failed');
    const { statusCode, code, message, details } = toErrorBody(error);
    session.send({ op: 'error', id, statusCode, code, message, ...(details ? { details } : {}) });
  }
}
