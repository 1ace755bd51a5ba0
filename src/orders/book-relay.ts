import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DomainError } from '../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { decodeJson, encodeJson } from '../platform/redis/json-codec.js';
import { RedisConnections } from '../platform/redis/redis.module.js';
import type { BookRequest } from './book-requests.js';

interface RelayCall {
  readonly id: string;
  readonly from: string;
  readonly symbol: string;
  readonly request: BookRequest;
}

type RelayAnswer =
  | { readonly id: string; readonly ok: unknown }
  | { readonly id: string; readonly error: { code: string; message: string; kind: DomainError['kind']; details?: Record<string, unknown> } }
  | { readonly id: string; readonly notOwner: true };

/** The owner no longer serves the book: the caller finds the owner again. */
export class NotOwnerAnswer extends Error {}

/** The owner did not answer in time (it may have died): the outcome is unknown. */
export class NoAnswer extends Error {}

/**
 * Carries a book request to the process that owns the book, and its answer back, over Redis
 * pub/sub: each process listens on its own channel. Redis keeps nothing here; a message lost with
 * a dying owner times out, and the caller learns the outcome is unknown (never that it failed).
 */
@Injectable()
export class BookRelay implements OnModuleDestroy {
  private readonly logger = new Logger(BookRelay.name);
  private readonly pending = new Map<string, { resolve: (answer: RelayAnswer) => void }>();
  private subscriber?: Promise<Redis>;
  private handler?: (symbol: string, request: BookRequest) => Promise<unknown>;
  private processId?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisConnections,
  ) {}

  /** Starts answering requests sent to `processId` with `handler`. */
  serve(processId: string, handler: (symbol: string, request: BookRequest) => Promise<unknown>): Promise<unknown> {
    this.processId = processId;
    this.handler = handler;
    return this.listen();
  }

  /** Sends a request to the owner and waits for its answer, at most `timeoutMs`. */
  async call(owner: string, symbol: string, request: BookRequest, timeoutMs: number): Promise<unknown> {
    await this.listen();
    const id = randomUUID();
    const answered = new Promise<RelayAnswer>((resolve) => this.pending.set(id, { resolve }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NoAnswer(`the owner of ${symbol} did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const call: RelayCall = { id, from: this.processId!, symbol, request };
      await this.redis.client.publish(this.channel(owner), encodeJson(call));
      const answer = await Promise.race([answered, timeout]);
      if ('notOwner' in answer) throw new NotOwnerAnswer(`${owner} no longer serves ${symbol}`);
      if ('error' in answer) throw new DomainError(answer.error.code, answer.error.message, answer.error.kind, answer.error.details);
      return answer.ok;
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  onModuleDestroy(): void {
    for (const { resolve } of this.pending.values()) resolve({ id: '', notOwner: true });
  }

  private channel(processId: string): string {
    return `${this.config.redis.queuePrefix}:books:${processId}`;
  }

  private listen(): Promise<Redis> {
    this.subscriber ??= (async () => {
      if (!this.processId) throw new Error('BookRelay.serve must run before any call');
      const connection = this.redis.open('book-relay');
      connection.on('message', (_channel: string, message: string) => void this.received(message));
      await connection.subscribe(this.channel(this.processId));
      return connection;
    })();
    return this.subscriber;
  }

  private async received(message: string): Promise<void> {
    const parsed = decodeJson<RelayCall | RelayAnswer>(message);
    if (!('request' in parsed)) {
      this.pending.get(parsed.id)?.resolve(parsed);
      return;
    }
    let answer: RelayAnswer;
    try {
      answer = { id: parsed.id, ok: await this.handler!(parsed.symbol, parsed.request) };
    } catch (error) {
      if (error instanceof NotOwnerAnswer) answer = { id: parsed.id, notOwner: true };
      else if (error instanceof DomainError) answer = { id: parsed.id, error: { code: error.code, message: error.message, kind: error.kind, details: error.details } };
      else {
        this.logger.error({ err: error, symbol: parsed.symbol }, 'a relayed book request failed');
        answer = { id: parsed.id, error: { code: 'INTERNAL', message: 'the book owner failed to serve the request', kind: 'unavailable' } };
      }
    }
    await this.redis.client.publish(this.channel(parsed.from), encodeJson(answer)).catch(() => undefined);
  }
}
