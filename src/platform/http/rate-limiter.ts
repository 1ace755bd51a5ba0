import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { Clock } from '../clock/clock.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { RedisConnections } from '../redis/redis.module.js';

const WINDOW_MS = 1000;
/** A process takes a tenth of a participant's budget from Redis at a time (at least what it needs now). */
const LEASE_SHARE = 10;

/**
 * Grants up to ARGV[3] units (at least ARGV[2], the request's own) of the window's budget ARGV[4],
 * or nothing when fewer than ARGV[2] are left. Returns { granted, counted in the window }.
 */
const LEASE_SCRIPT = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local need, want, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if used + need > limit then return {0, used} end
local grant = math.min(want, limit - used)
local n = redis.call('INCRBY', KEYS[1], grant)
if n == grant then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {grant, n}`;

/** What a participant has left in the current window after a request was counted. */
export interface RateBudget {
  readonly limit: number;
  /** Left in this window over all processes, as this process last heard from Redis (it may be lower by now). */
  readonly remaining: number;
  /** When the window ends and the budget is whole again (epoch ms). */
  readonly resetsAt: number;
}

/** Units this process took from a participant's window in Redis and has not spent yet. */
interface Lease {
  readonly window: number;
  left: number;
  /** What Redis had counted in the window when this process last asked. */
  counted: number;
}

/**
 * The per-participant budget (RATE_LIMIT_PER_SECOND), over all its API keys and every way in
 * (REST, the batch route, WebSocket order entry), counted in Redis so every API process shares
 * it, in fixed one-second windows. A request may weigh more than one unit: a batch of 100 orders
 * costs 100.
 *
 * Redis is not asked on every request: a process takes a lease of a tenth of the budget (or what
 * the request needs, if more) and spends it locally, so a busy participant costs one round trip
 * per ten requests, and concurrent requests share one. Redis never grants beyond the budget, so
 * no participant exceeds it over all processes; one may be refused up to a lease per other busy
 * process early, while those processes still hold units of the window. If Redis is unreachable
 * the request is let through: limits protect the exchange, they are not worth an outage.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly leases = new Map<string, Lease>();
  /** A lease being asked for, per participant: concurrent requests wait for it instead of asking too. */
  private readonly asking = new Map<string, Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisConnections,
    private readonly clock: Clock,
  ) {}

  /** Counts `units` for the participant; throws RATE_LIMITED when the window's budget is spent. */
  async take(participantId: string, units = 1): Promise<RateBudget | undefined> {
    const limit = this.config.http.rateLimitPerSecond;
    if (limit === 0 || units <= 0) return undefined;
    for (;;) {
      const window = Math.floor(this.clock.now().getTime() / WINDOW_MS);
      const lease = this.leases.get(participantId);
      if (lease?.window === window && lease.left >= units) {
        lease.left -= units;
        return { limit, remaining: Math.max(0, limit - lease.counted + lease.left), resetsAt: (window + 1) * WINDOW_MS };
      }
      const asked = this.asking.get(participantId);
      if (asked) {
        await asked;
        continue;
      }
      const asking = this.lease(participantId, window, units, limit);
      this.asking.set(participantId, asking.then(() => undefined, () => undefined));
      let granted: boolean;
      try {
        granted = await asking;
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'rate limiter unavailable; request allowed');
        return undefined;
      } finally {
        this.asking.delete(participantId);
      }
      if (!granted) {
        throw new DomainError('RATE_LIMITED', `more than ${limit} requests per second for this participant`, 'rate_limited', { retryAfterSeconds: 1, limit });
      }
    }
  }

  /** Asks Redis for a lease in `window` with at least `units`; false when the window's budget is spent. */
  private async lease(participantId: string, window: number, units: number, limit: number): Promise<boolean> {
    const want = Math.max(units, Math.ceil(limit / LEASE_SHARE));
    const key = `${this.config.redis.queuePrefix}:ratelimit:${participantId}:${window}`;
    const [granted, counted] = (await this.redis.client.eval(LEASE_SCRIPT, 1, key, String(WINDOW_MS * 2), String(units), String(want), String(limit))) as [number, number];
    if (granted === 0) return false;
    const lease = this.leases.get(participantId);
    const kept = lease?.window === window ? lease.left : 0;
    this.leases.set(participantId, { window, left: kept + granted, counted });
    return true;
  }
}
