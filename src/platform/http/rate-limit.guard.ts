import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../common/domain-error.js';
import type { Principal } from './auth.js';
import { type RateBudget, RateLimiter } from './rate-limiter.js';

/** A request as the guard leaves it: with the budget it was counted against (none when limits are off). */
export type BudgetedRequest = FastifyRequest & { principal?: Principal; rateBudget?: RateBudget };

/**
 * Every authenticated request costs its participant one unit of its budget (rate-limiter.ts),
 * shown in `x-ratelimit-*` headers. Unauthenticated public routes are left to the load balancer;
 * unknown keys are limited per address before they are looked up (failed-auth-limiter.ts).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<BudgetedRequest>();
    if (!request.principal) return true;
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    try {
      const budget = await this.limiter.take(request.principal.participantId);
      request.rateBudget = budget;
      if (budget) void reply.header('x-ratelimit-limit', String(budget.limit)).header('x-ratelimit-remaining', String(budget.remaining));
    } catch (error) {
      if (error instanceof DomainError && error.code === 'RATE_LIMITED') {
        void reply.header('x-ratelimit-limit', String(error.details?.limit)).header('x-ratelimit-remaining', '0');
      }
      throw error;
    }
    return true;
  }
}
