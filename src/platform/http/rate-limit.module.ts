import { Global, Module } from '@nestjs/common';
import { RateLimiter } from './rate-limiter.js';

/** The participants' shared request budget, for the HTTP guard and every other way in (batches, WebSocket). */
@Global()
@Module({ providers: [RateLimiter], exports: [RateLimiter] })
export class RateLimitModule {}
