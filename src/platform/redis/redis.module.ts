import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

/**
 * Redis connections. Redis is a delivery mechanism here (queues, rate-limit counters), never the
 * source of truth: it may lose everything on restart and the service must not care.
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  private readonly opened: Redis[] = [];
  /** Shared connection for commands (rate limits, health, queue producers). */
  readonly client: Redis;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.client = this.open('client');
  }

  /**
   * A new connection. BullMQ workers block on their connection, so each gets its own, and it must
   * retry forever rather than fail queued commands (`maxRetriesPerRequest: null`).
   */
  open(name: string, options: { blocking?: boolean } = {}): Redis {
    const connection = new Redis(this.config.redis.url, {
      connectionName: `tokex:${name}`,
      maxRetriesPerRequest: options.blocking ? null : 3,
      enableOfflineQueue: true,
    });
    connection.on('error', () => undefined); // reported through /health; ioredis reconnects by itself
    this.opened.push(connection);
    return connection;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.opened.map((c) => c.quit().catch(() => c.disconnect())));
  }
}

@Global()
@Module({ providers: [RedisConnections], exports: [RedisConnections] })
export class RedisModule {}
