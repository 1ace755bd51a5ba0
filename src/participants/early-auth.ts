import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../common/domain-error.js';
import type { Principal } from '../platform/http/auth.js';
import { toErrorBody } from '../platform/http/exception.filter.js';
import { refuse, routeLimitsOf } from '../platform/http/route-limits.js';
import type { ApiKeyAuthenticator } from './api-key-authenticator.js';

/**
 * The API's routes; the others are public (/health, /metrics, /docs) or the ops console's, which
 * has its own session (ops-http.ts). Routes Fastify plugins add carry no @Public() of their own.
 */
const API_PREFIX = '/v1/';

/** `Bearer <key>` from the Authorization header, or undefined. */
export function bearerKeyOf(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/**
 * Checks the API key of every route that needs one as the request arrives, before its body is
 * read or parsed: a stranger's 8 MB body costs nothing but a 401. The principal is left on the
 * request for the AuthGuard, which still checks roles (and the keys public routes may carry).
 */
export function registerEarlyAuth(fastify: FastifyInstance, authenticator: ApiKeyAuthenticator): void {
  fastify.addHook('onRequest', async (request: FastifyRequest & { principal?: Principal }, reply) => {
    const route = request.routeOptions.url; // undefined when no route matches: a 404
    if (route === undefined || !route.startsWith(API_PREFIX) || routeLimitsOf(request).public) return;
    const key = bearerKeyOf(request.headers.authorization);
    try {
      if (!key) throw new DomainError('UNAUTHENTICATED', 'missing or malformed Authorization header: expected "Bearer <api key>"', 'unauthenticated');
      request.principal = await authenticator.authenticate(key, request.ip);
    } catch (error) {
      const body = toErrorBody(error, request.id);
      if (body.statusCode >= 500) throw error; // the database is down: Fastify's 500, logged
      // The body is never parsed or buffered: Node discards it as it arrives.
      if (body.details?.retryAfterSeconds !== undefined) void reply.header('retry-after', String(body.details.retryAfterSeconds));
      return refuse(reply, body.statusCode, body.code, body.message);
    }
  });
}
