import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DomainError, forbidden } from '../common/domain-error.js';
import type { Role } from './participant.entity.js';
import { ApiKeyAuthenticator } from './api-key-authenticator.js';
import { bearerKeyOf } from './early-auth.js';
import { type Principal, PUBLIC_ROUTE, REQUIRED_ROLES } from '../platform/http/auth.js';

/**
 * Every route needs `Authorization: Bearer <api key>` unless marked @Public(). An unknown or
 * revoked key is 401; a suspended participant, or a role the route does not allow, is 403.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<FastifyRequest & { principal?: Principal }>();
    const header = request.headers.authorization;
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) === true;
    if (isPublic && header === undefined) return true;

    // Usually already checked as the request arrived (early-auth.ts), before its body was read.
    let principal = request.principal;
    if (!principal) {
      const key = bearerKeyOf(header);
      if (!key) throw new DomainError('UNAUTHENTICATED', 'missing or malformed Authorization header: expected "Bearer <api key>"', 'unauthenticated');
      principal = request.principal = await this.authenticator.authenticate(key, request.ip);
    }

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, targets);
    if (roles && !roles.some((role) => principal.roles.includes(role))) {
      throw forbidden('ROLE_REQUIRED', `this route needs the ${roles.join(' or ')} role`);
    }
    return true;
  }
}
