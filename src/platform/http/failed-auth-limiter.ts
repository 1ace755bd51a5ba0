import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { RedisConnections } from '../redis/redis.module.js';

const WINDOW_MS = 60_000;

/**
 * Count one attempt in the address's current window, unless it is over the limit: a refused
 * attempt reaches nothing, so it is not counted (else a burst of valid keys' first uses, refused
 * while the first ones were being checked, would hold the address's count over the limit for the
 * rest of the minute). The key expires with its window.
 */
const ADMIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then redis.call('DECR', KEYS[1]) end
return n`;

/**
 * Limits, per client address, the API keys that cannot be verified from memory
 * (AUTH_FAILURES_PER_MINUTE, shared by every API process through Redis): a stranger trying keys
 * gets 429s instead of a PostgreSQL lookup per request. Every such attempt is counted when it
 * starts and uncounted once its key turns out valid, so concurrent guesses cannot all slip in
 * before the first failure is counted, and a valid key never uses up its address's budget; an
 * attempt refused with a 429 is not counted at all. Keys
 * the authenticator has verified before do not come here at all when they miss its cache again.
 * If Redis is unreachable the attempt is let through, as with the rate limit.
 */
@Injectable()
export class FailedAuthLimiter {
  private readonly logger = new Logger(FailedAuthLimiter.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisConnections,
  ) {}

  /** Admits one attempt from `address` or throws 429; the answer uncounts it (call it when the key was valid). */
  async admit(address: string | undefined): Promise<() => Promise<void>> {
    const limit = this.config.http.authFailuresPerMinute;
    if (limit === 0 || address === undefined) return async () => undefined;
    const now = Date.now();
    const key = `${this.config.redis.queuePrefix}:authfail:${address}:${Math.floor(now / WINDOW_MS)}`;
    let count: number;
    try {
      count = (await this.redis.client.eval(ADMIT_SCRIPT, 1, key, String(WINDOW_MS * 2), String(limit))) as number;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'failed-authentication limiter unavailable; attempt allowed');
      return async () => undefined;
    }
    if (count > limit) {
      throw new DomainError('TOO_MANY_FAILED_AUTHENTICATIONS', `more than ${limit} unknown API keys a minute from this address`, 'rate_limited', {
        retryAfterSeconds: Math.ceil((WINDOW_MS - (now % WINDOW_MS)) / 1000),
      });
    }
    return async () => {
      await this.redis.client.decr(key).catch(() => undefined);
    };
  }
}
