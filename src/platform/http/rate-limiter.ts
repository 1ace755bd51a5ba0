import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { RedisConnections } from '../redis/redis.module.js';

const WINDOW_MS = 1000;

/** Count `ARGV[2]` units in the current one-second window; the key expires with its window. */
const COUNT_SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/** What a participant has left in the current window after a request was counted. */
export interface RateBudget {
  readonly limit: number;
  readonly remaining: number;
}

/**
 * The per-participant budget (RATE_LIMIT_PER_SECOND), over all its API keys and every way in
 * (REST, the batch route, WebSocket order entry), counted in Redis so every API process shares
 * it. Fixed one-second windows: cheap (one round trip) and good enough to stop a runaway bot. A
 * request may weigh more than one unit: a batch of 100 orders costs 100. If Redis is unreachable
 * the request is let through: limits protect the exchange, they are not worth an outage.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisConnections,
  ) {}

  /** Counts `units` for the participant; throws RATE_LIMITED when the window's budget is spent. */
  async take(participantId: string, units = 1): Promise<RateBudget | undefined> {
    const limit = this.config.http.rateLimitPerSecond;
    if (limit === 0 || units <= 0) return undefined;
    const window = Math.floor(Date.now() / WINDOW_MS);
    let count: number;
    try {
      count = (await this.redis.client.eval(COUNT_SCRIPT, 1, `${this.config.redis.queuePrefix}:ratelimit:${participantId}:${window}`, String(WINDOW_MS * 2), String(units))) as number;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'rate limiter unavailable; request allowed');
      return undefined;
    }
    if (count > limit) {
      throw new DomainError('RATE_LIMITED', `more than ${limit} requests per second for this participant`, 'rate_limited', { retryAfterSeconds: 1, limit });
    }
    return { limit, remaining: limit - count };
  }
}
