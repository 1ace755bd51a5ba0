import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { WithRouteLimits } from './route-limits.js';

/** What a participant may do (api.md): every route names the roles it admits. */
export const ROLES = ['provider', 'buyer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: set on the request by the auth guard (participants/). */
export interface Principal {
  readonly participantId: string;
  readonly roles: readonly Role[];
  readonly apiKeyId: string;
}

export const PUBLIC_ROUTE = 'tokex:public';
export const REQUIRED_ROLES = 'tokex:roles';

/**
 * No API key needed (health, metrics, docs, public market data). The HTTP edge reads it too, to
 * refuse a request without a key before its body is read.
 */
export const Public = () => applyDecorators(SetMetadata(PUBLIC_ROUTE, true), WithRouteLimits({ public: true }));

/** The caller must hold at least one of these roles; otherwise 403. */
export const Roles = (...roles: Role[]) => SetMetadata(REQUIRED_ROLES, roles);

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest().principal,
);

export const isAdmin = (principal: Principal) => principal.roles.includes('admin');
