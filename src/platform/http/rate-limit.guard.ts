import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { Principal } from './auth.js';
import { RedisConnections } from '../redis/redis.module.js';

const WINDOW_MS = 1000;

/** Count a request in the current one-second window; the key expires with its window. */
const COUNT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * Per-participant rate limit (RATE_LIMIT_PER_SECOND), over all its API keys, counted in Redis so
 * every API process shares the budget. Fixed one-second windows: cheap (one round trip) and good enough to stop a runaway
 * bot. If Redis is unreachable the request is let through: limits protect the exchange, they are
 * not worth an outage. Unauthenticated public routes are left to the load balancer; unknown keys
 * are limited per address before they are looked up (failed-auth-limiter.ts).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly logger = new Logger(RateLimitGuard.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisConnections,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const limit = this.config.http.rateLimitPerSecond;
    const request = context.switchToHttp().getRequest<FastifyRequest & { principal?: Principal }>();
    if (limit === 0 || !request.principal) return true;
    const window = Math.floor(Date.now() / WINDOW_MS);
    let count: number;
    try {
      count = (await this.redis.client.eval(
        COUNT_SCRIPT,
        1,
        // Per participant: more keys are not more budget.
        `${this.config.redis.queuePrefix}:ratelimit:${request.principal.participantId}:${window}`,
        String(WINDOW_MS * 2),
      )) as number;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'rate limiter unavailable; request allowed');
      return true;
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    void reply.header('x-ratelimit-limit', String(limit));
    void reply.header('x-ratelimit-remaining', String(Math.max(0, limit - count)));
    if (count > limit) {
      const retryAfterSeconds = 1;
      throw new DomainError('RATE_LIMITED', `more than ${limit} requests per second for this participant`, 'rate_limited', {
        retryAfterSeconds,
      });
    }
    return true;
  }
}
