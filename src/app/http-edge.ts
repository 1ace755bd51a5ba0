import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { MeteringService } from '../metering/metering.service.js';
import { registerUsageBatchGate } from '../metering/usage-batch-gate.js';
import { ApiKeyAuthenticator } from '../participants/api-key-authenticator.js';
import { registerEarlyAuth } from '../participants/early-auth.js';
import { registerRouteLimits } from '../platform/http/route-limits.js';

/**
 * What the edge refuses before a controller runs, cheapest first: a request without a valid key
 * (or, on the usage-batch route, without a registered node) before its body is read; a body over
 * its route's limit while it is read; deep nesting and unstorable text once it is parsed. Must be
 * called before the app's init, which adds the routes.
 */
export function hardenHttpEdge(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  registerRouteLimits(app);
  registerEarlyAuth(fastify, app.get(ApiKeyAuthenticator));
  registerUsageBatchGate(fastify, app.get(MeteringService));
}
