import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { scanInput } from './input-scan.js';

/** What a route tells the HTTP edge before its body is read (Fastify route config). */
export interface RouteLimits {
  /** No API key needed (`@Public()`). */
  readonly public?: boolean;
  /** Largest body accepted, in bytes; DEFAULT_BODY_LIMIT when not set. */
  readonly bodyLimit?: number;
  /** The handler parses the raw body itself (after checking its signature): JSON is not parsed. */
  readonly rawBody?: boolean;
}

/** Every route's body limit unless it says otherwise: far above any DTO, far below a stall. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/**
 * Adds to a handler's Fastify route config, keeping what other decorators put there (Nest's own
 * `@RouteConfig` replaces it). On a class it does nothing: Fastify reads it per handler.
 */
export function WithRouteLimits(limits: RouteLimits): MethodDecorator & ClassDecorator {
  return (_target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (!descriptor) return;
    const before = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, descriptor.value) ?? {}) as RouteLimits;
    Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...before, ...limits }, descriptor.value);
  };
}

/** A route that takes more than DEFAULT_BODY_LIMIT bytes. */
export const BodyLimit = (bytes: number) => WithRouteLimits({ bodyLimit: bytes });

/** A route whose handler reads `request.rawBody` and parses it only once it trusts it. */
export const RawBodyOnly = () => WithRouteLimits({ rawBody: true });

export const routeLimitsOf = (request: FastifyRequest): RouteLimits => (request.routeOptions.config ?? {}) as RouteLimits;

/** Answers in the api.md error shape from a Fastify hook, before Nest (and its filter) is reached. */
export function refuse(reply: FastifyReply, statusCode: number, code: string, message: string, details?: Record<string, unknown>): FastifyReply {
  return reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode], message, code, ...(details ? { details } : {}) });
}

/**
 * Per-route body limits (set as each route is added, so must run before the app's init), and one
 * scan of every parsed body, query and path parameter, before any pipe or validator sees them.
 */
export function registerRouteLimits(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  // JSON as Fastify parses it (prototype poisoning refused), except on raw-body routes: a stranger's
  // 8 MB of JSON is never parsed before its signature is checked. Nest keeps request.rawBody.
  const json = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser('application/json', { bodyLimit: DEFAULT_BODY_LIMIT }, (request, body, done) => {
    if (routeLimitsOf(request as FastifyRequest).rawBody) return done(null, undefined);
    json(request as FastifyRequest, body.toString('utf8'), done);
  });
  fastify.addHook('onRoute', (route) => {
    route.bodyLimit = (route.config as RouteLimits | undefined)?.bodyLimit ?? route.bodyLimit ?? DEFAULT_BODY_LIMIT;
  });
  fastify.addHook('preValidation', async (request, reply) => {
    for (const [where, value] of [['params', request.params], ['query', request.query], ['body', request.body]] as const) {
      const problem = scanInput(value);
      if (!problem) continue;
      const field = problem.path || where;
      return refuse(reply, 400, 'VALIDATION_FAILED', `${field}: ${problem.reason}`, { fields: [field] });
    }
  });
}
