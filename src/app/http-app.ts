import type { IncomingMessage } from 'node:http';
import { type FastifyInstance, LogController } from 'fastify';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { beforeBoot } from './bootstrap.js';
import type { AppConfig } from '../platform/config/app-config.js';
import { createRootLogger, NestPinoLogger, REQUEST_ID_HEADER, requestIdOf } from '../platform/observability/logging.js';
import { MetricsService } from '../platform/observability/metrics.service.js';
import { registerOpsConsole } from '../ops/ops-http.js';
import { DEFAULT_BODY_LIMIT } from '../platform/http/route-limits.js';
import { hardenHttpEdge } from './http-edge.js';
import { registerSecurityHeaders } from '../platform/http/security-headers.js';

/**
 * Builds the HTTP application (api role) on Fastify: request ids, security headers, latency
 * metrics by route, and the OpenAPI document generated from the controllers and DTOs.
 */
export async function createHttpApp(config: AppConfig): Promise<NestFastifyApplication> {
  await beforeBoot(config);
  const logger = createRootLogger(config);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // One line per request and per response, except probes scraped every few seconds.
    logController: new LogController({
      disableRequestLogging: (request) => !config.http.logRequests || request.url === '/health' || request.url === '/metrics',
    }),
    genReqId: (request: IncomingMessage) => requestIdOf(request),
    bodyLimit: DEFAULT_BODY_LIMIT, // per route as well (http-edge.ts): only usage batches are large
    forceCloseConnections: 'idle', // keep-alive connections must not hold up a graceful shutdown
    // request.ip: the client behind that many proxies (as proxy-addr counts hops: 0 is the TCP peer)
    trustProxy: (_address: string, hop: number) => hop < config.http.trustProxyHops,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new NestPinoLogger(logger),
    abortOnError: false, // start-up errors reach the caller (main prints them; tests assert them)
    rawBody: true, // signed usage batches are verified over the exact bytes received
  });

  hardenHttpEdge(app);

  // WS /v1/stream shares the HTTP server (and port) of the API.
  app.useWebSocketAdapter(new WsAdapter(app));

  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  registerSecurityHeaders(fastify, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: [`'self'`],
        // Swagger UI at /docs needs inline styles and its init script.
        styleSrc: [`'self'`, `'unsafe-inline'`],
        scriptSrc: [`'self'`, `'unsafe-inline'`],
        imgSrc: [`'self'`, 'data:'],
        upgradeInsecureRequests: null, // plain HTTP behind a TLS-terminating proxy, or on localhost
      },
    },
  });

  // The ops console at /ops: its session, CSRF, views, assets and the queue board.
  await registerOpsConsole(app, config);

  const metrics = app.get(MetricsService);
  fastify.addHook('onSend', async (request, reply, payload) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    return payload;
  });
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('tokex')
      .setDescription('The exchange for spare AI inference capacity, traded as tokens. Money is USD as decimal strings; quantities are integer tokens.')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key: tkx_...' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });

  return app;
}
