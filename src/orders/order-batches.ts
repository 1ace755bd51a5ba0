import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, invalid } from '../common/domain-error.js';
import type { Principal } from '../platform/http/auth.js';
import { toErrorBody } from '../platform/http/exception.filter.js';
import { RateLimiter } from '../platform/http/rate-limiter.js';
import { validateItem } from '../platform/http/validation.js';
import { IdempotencyService, type StoredResponse } from '../platform/idempotency/idempotency.service.js';
import { requestHash } from '../platform/idempotency/stored-answers.js';
import { BatchCancelCommand, BatchPlaceCommand, type BatchResultView, type OrderBatchDto, type OrderBatchView } from './order-commands.dto.js';
import { OrderEntry, orderRefOf, type PreparedCommand } from './order-entry.js';

const ROUTE = 'POST /v1/orders/batch';

/**
 * `POST /v1/orders/batch`: up to 100 places and cancels, each answered on its own after its book
 * committed it; never all or nothing. Every command is checked and looked up first, then all are
 * handed to their books in the order given, so each book receives the batch's commands in that
 * order (and in one group commit when they arrive together).
 *
 * With an `Idempotency-Key`, the key is claimed before anything runs and the whole answer stored
 * once every command is answered. Each place also carries a key of its own, derived from the
 * batch's (`<key> [<index>]`, which no client key can be), stored by its book in the order's
 * commit: a batch re-run after a crash never places an order twice. A batch in which a command
 * met a 5xx (a busy book) is not remembered, so that its retry runs again.
 */
@Injectable()
export class OrderBatches {
  private readonly logger = new Logger(OrderBatches.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly entry: OrderEntry,
    private readonly idempotency: IdempotencyService,
    private readonly limiter: RateLimiter,
  ) {}

  async run(actor: Principal, dto: OrderBatchDto, idempotencyKey: string | undefined, correlationId?: string): Promise<StoredResponse<OrderBatchView>> {
    // A command costs what a request does: the guard counted the batch as one.
    await this.limiter.take(actor.participantId, dto.commands.length - 1);
    if (idempotencyKey === undefined) return { statusCode: 200, body: await this.execute(actor, dto.commands, undefined, correlationId), replayed: false };

    const scope = { participantId: actor.participantId, key: idempotencyKey, fingerprint: { route: ROUTE, body: dto.commands } };
    const replay = await this.idempotency.claim(this.dataSource.manager, scope);
    if (replay) return replay as StoredResponse<OrderBatchView>;
    let body: OrderBatchView;
    try {
      body = await this.execute(actor, dto.commands, idempotencyKey, correlationId);
    } catch (error) {
      await this.idempotency.settle(this.dataSource.manager, scope, undefined);
      throw error;
    }
    const retryable = body.results.some((r) => r.statusCode >= 500);
    await this.idempotency.settle(this.dataSource.manager, scope, retryable ? undefined : { statusCode: 200, body });
    return { statusCode: 200, body, replayed: false };
  }

  private async execute(actor: Principal, commands: readonly unknown[], batchKey: string | undefined, correlationId?: string): Promise<OrderBatchView> {
    const prepared = await Promise.all(commands.map((command, index) => this.prepare(actor, command, index, batchKey).catch((error: unknown) => new Failure(error, index))));
    // Submitted in one synchronous pass: each book's queue receives them in the batch's order.
    const entered = prepared.map((p, index) => (p instanceof Failure ? p : this.entry.submit(p).catch((error: unknown) => new Failure(error, index))));
    const results = await Promise.all(entered);
    return { results: results.map((r) => (r instanceof Failure ? this.errorResult(r, correlationId) : { statusCode: r.statusCode, order: r.order })) };
  }

  private async prepare(actor: Principal, command: unknown, index: number, batchKey: string | undefined): Promise<PreparedCommand> {
    const at = `commands[${index}]`;
    if (command === null || typeof command !== 'object' || Array.isArray(command)) throw invalid('VALIDATION_FAILED', `${at} must be a JSON object`, { fields: [at] });
    const { op } = command as { op?: unknown };
    if (op === 'place') {
      const place = await validateItem(BatchPlaceCommand, command, at);
      const { op: _, ...dto } = place;
      const keyed = batchKey === undefined ? undefined : { key: `${batchKey} [${index}]`, requestHash: requestHash({ route: ROUTE, index, body: command }) };
      return this.entry.preparePlace(actor, dto, keyed);
    }
    if (op === 'cancel') {
      const cancel = await validateItem(BatchCancelCommand, command, at);
      return this.entry.prepareCancel(actor, orderRefOf(cancel, at), 'orderId');
    }
    throw invalid('VALIDATION_FAILED', `${at}.op must be one of: place, cancel`, { fields: [`${at}.op`] });
  }

  /** A refusal as the route would have answered it alone, with the fields named under the command (`commands[3].price`). */
  private errorResult({ error, index }: Failure, correlationId?: string): BatchResultView {
    if (!(error instanceof DomainError)) this.logger.error({ err: error, correlationId, command: index }, 'batch command failed');
    const at = `commands[${index}]`;
    const fields = error instanceof DomainError ? (error.details?.fields as string[] | undefined) : undefined;
    if (!fields || fields.every((f) => f.startsWith(at))) return toErrorBody(error, correlationId);
    const { code, message, kind, details } = error as DomainError;
    return toErrorBody(new DomainError(code, `${at}: ${message}`, kind, { ...details, fields: fields.map((f) => `${at}.${f}`) }));
  }
}

/** A command refused before or by its book. */
class Failure {
  constructor(
    readonly error: unknown,
    readonly index: number,
  ) {}
}

