import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyStatic from '@fastify/static';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardAdapter } from '@bull-board/fastify';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../platform/config/app-config.js';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import { QUEUE_NAMES } from '../platform/jobs/job-definitions.js';
import { JobQueues } from '../platform/jobs/job-queues.js';
import { DataSource } from 'typeorm';
import { OPS_ASSETS, OPS_VIEWS, VENDOR_ASSETS } from './ops-paths.js';
import { OPS_PATH, type OpsSession, OpsSessions, SESSION_COOKIE } from './ops-session.js';

/** Pages anyone may open: signing in, and the console's scripts and styles. */
const OPEN_PATHS = [`${OPS_PATH}/sign-in`, `${OPS_PATH}/assets/`];
export const QUEUES_PATH = `${OPS_PATH}/queues`;

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in admin of an ops console request (set by the console's preHandler). */
    opsSession?: OpsSession;
  }
}

/**
 * The ops console's HTTP side, on the API's Fastify: cookies (signed), CSRF tokens, Eta views,
 * the console's assets and the vendored browser scripts, bull-board at /ops/queues, and one
 * preHandler that admits only signed-in admins to /ops and checks every POST's CSRF token (in
 * preHandler, where the form body has been parsed).
 */
export async function registerOpsConsole(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const logger = new Logger('OpsConsole');
  const secret = config.ops.sessionSecret ?? randomBytes(32).toString('hex');
  if (!config.ops.sessionSecret && config.env === 'production') {
    logger.warn('OPS_SESSION_SECRET is not set: console sessions end when this process restarts and are not shared between API processes');
  }
  await app.register(fastifyCookie, { secret });
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'tokex_ops_csrf',
    cookieOpts: { path: OPS_PATH, httpOnly: true, sameSite: 'strict', signed: true, secure: 'auto' },
  });
  app.setViewEngine({ engine: { eta: new Eta({ views: OPS_VIEWS, cache: config.env === 'production' }) }, templates: OPS_VIEWS });
  await app.register(fastifyStatic, { root: [OPS_ASSETS, ...VENDOR_ASSETS], prefix: `${OPS_PATH}/assets/`, decorateReply: false, maxAge: 3_600_000 });

  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  const sessions = app.get(OpsSessions);
  fastify.addHook('preHandler', async (request, reply) => {
    const path = request.url.split('?')[0];
    if (path !== OPS_PATH && !path.startsWith(`${OPS_PATH}/`)) return;
    if (OPEN_PATHS.some((open) => path.startsWith(open))) {
      if (request.method === 'POST') await checkCsrf(fastify, request, reply);
      return;
    }
    const session = await sessionOf(request, sessions);
    if (!session) {
      // A page asks the browser to sign in; htmx swaps are told to load the sign-in page whole.
      if (request.headers['hx-request']) return reply.header('hx-redirect', `${OPS_PATH}/sign-in`).code(401).send();
      if (request.method === 'GET') return reply.redirect(`${OPS_PATH}/sign-in`, 303);
      return reply.code(401).type('text/plain').send('Your session has ended: sign in again.');
    }
    request.opsSession = session;
    // bull-board's own API (PUT and PUT-like calls from its page) relies on the SameSite=Strict cookie.
    if (request.method === 'POST' && !path.startsWith(QUEUES_PATH)) await checkCsrf(fastify, request, reply);
  });

  await mountQueueBoard(app, fastify);
}

async function sessionOf(request: FastifyRequest, sessions: OpsSessions): Promise<OpsSession | undefined> {
  const raw = request.cookies[SESSION_COOKIE];
  if (!raw) return undefined;
  const unsigned = request.unsignCookie(raw);
  return unsigned.valid && unsigned.value ? sessions.resolve(unsigned.value) : undefined;
}

/** @fastify/csrf-protection's check, awaited: a missing or wrong token answers 403 and stops the request. */
function checkCsrf(fastify: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      fastify.csrfProtection(request, reply, () => resolve());
    } catch (error) {
      reject(error);
    }
  });
}

/**
 * bull-board (see, retry and remove jobs) behind the same session. Its changes are written to the
 * audit trail with the admin who made them.
 */
async function mountQueueBoard(app: NestFastifyApplication, fastify: FastifyInstance): Promise<void> {
  const queues = app.get(JobQueues);
  const audit = app.get(AuditTrail);
  const dataSource = app.get(DataSource);
  const board = new BullBoardAdapter();
  createBullBoard({ queues: QUEUE_NAMES.map((name) => new BullMQAdapter(queues.queue(name))), serverAdapter: board, options: { uiConfig: { boardTitle: 'tokex queues' } } });
  board.setBasePath(QUEUES_PATH);
  fastify.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || !request.url.startsWith(`${QUEUES_PATH}/api/`) || reply.statusCode >= 400 || !request.opsSession) return;
    await audit.record(dataSource.manager, {
      actorId: request.opsSession.principal.participantId,
      action: `queues.${request.method.toLowerCase()}`,
      subjectType: 'queue',
      subjectId: request.url.slice(QUEUES_PATH.length),
      details: { via: 'ops console (bull-board)' },
    });
  });
  await app.register(board.registerPlugin() as never, { prefix: QUEUES_PATH });
}
