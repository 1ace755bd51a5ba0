import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { RedisConnections } from '../platform/redis/redis.module.js';
import type { BookEvents, CommittedBatch } from './book-events.js';
import { decodeBatch, encodeBatch } from './book-event-wire.js';

/**
 * Committed batches over Redis pub/sub, so that every API process streams the same sequenced book
 * deltas, trades and private updates whichever process owns the book. The owner publishes on one
 * connection, in commit order; Redis delivers each subscriber's messages in that order. A message
 * Redis loses shows up as a sequence gap, after which a stream client takes a new snapshot.
 */
@Injectable()
export class RedisBookEvents implements BookEvents {
  private readonly logger = new Logger(RedisBookEvents.name);
  private readonly listeners = new Set<(batch: CommittedBatch) => void>();
  private subscribed?: Promise<Redis>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisConnections,
  ) {}

  publish(batch: CommittedBatch): void {
    this.redis.client.publish(this.channel, encodeBatch(batch)).catch((error: Error) => {
      this.logger.warn({ err: error.message, instrument: batch.instrument, seq: batch.seq }, 'a committed batch was not published');
    });
  }

  subscribe(listener: (batch: CommittedBatch) => void): () => void {
    this.listeners.add(listener);
    void this.ready();
    return () => this.listeners.delete(listener);
  }

  /** Resolves once this process receives the batches published from now on. */
  async ready(): Promise<void> {
    this.subscribed ??= (async () => {
      const subscriber = this.redis.open('book-events');
      subscriber.on('message', (_channel: string, message: string) => {
        const batch = decodeBatch(message);
        for (const listener of this.listeners) listener(batch);
      });
      await subscriber.subscribe(this.channel);
      return subscriber;
    })();
    await this.subscribed;
  }

  private get channel(): string {
    return `${this.config.redis.queuePrefix}:book-events`;
  }
}
