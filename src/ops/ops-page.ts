import type {} from '@fastify/view'; // reply.view()
import { type ArgumentsHost, Catch, createParamDecorator, type ExceptionFilter, type ExecutionContext } from '@nestjs/common';
import { IsOptional, IsString } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../common/domain-error.js';
import type { Principal } from '../platform/http/auth.js';
import { toErrorBody } from '../platform/http/exception.filter.js';
import { OPS_PATH } from './ops-session.js';

/** Every console form carries its CSRF token (checked before validation, in preHandler). */
export class OpsForm {
  @IsOptional() @IsString()
  _csrf?: string;
}

/** The console's pages, in the order the navigation lists them. */
export const NAV: ReadonlyArray<{ readonly path: string; readonly label: string }> = [
  { path: OPS_PATH, label: 'Overview' },
  { path: `${OPS_PATH}/settlements`, label: 'Settlements' },
  { path: `${OPS_PATH}/disputes`, label: 'Disputes' },
  { path: `${OPS_PATH}/deliveries`, label: 'Deliveries' },
  { path: `${OPS_PATH}/forwards`, label: 'Forwards' },
  { path: `${OPS_PATH}/scorecards`, label: 'Scorecards' },
  { path: `${OPS_PATH}/ledger`, label: 'Ledger' },
  { path: `${OPS_PATH}/participants`, label: 'Participants' },
  { path: `${OPS_PATH}/audit`, label: 'Audit log' },
  { path: `${OPS_PATH}/queues`, label: 'Queues' },
];

/**
 * The signed-in admin of a console request. The console's preHandler has admitted it; this
 * refuses a request that reached a page without it (defence in depth), as a sign-in redirect.
 */
export const OpsAdmin = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const session = context.switchToHttp().getRequest<FastifyRequest>().opsSession;
  if (!session) throw new DomainError('UNAUTHENTICATED', 'sign in to the ops console', 'unauthenticated');
  return session.principal;
});

/** Renders a page in the console's layout, with what every page needs: the admin, the navigation, a CSRF token. */
export function renderPage(request: FastifyRequest, reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200): FastifyReply {
  return reply.code(status).view(view, {
    ...data,
    admin: request.opsSession?.principal,
    sessionEndsAt: request.opsSession?.expiresAt,
    csrf: reply.generateCsrf(),
    nav: NAV,
    path: request.url.split('?')[0],
  }) as unknown as FastifyReply;
}

/**
 * The "Next" link of a paged table: the page's path with its filters (those given) and the cursor
 * the service answered; null on the last page.
 */
export function nextPageHref(path: string, filters: Record<string, string | undefined>, cursor: string | null | undefined): string | null {
  if (!cursor) return null;
  const given = Object.entries(filters).filter((e): e is [string, string] => e[1] !== undefined);
  return `${path}?${new URLSearchParams([...given, ['cursor', cursor]])}`;
}

/** Answers a POST the way browsers expect: 303 See Other, so a reload does not post again. */
export function redirectAfterPost(reply: FastifyReply, to: string): FastifyReply {
  return reply.redirect(to, 303);
}

/**
 * Errors on console pages are pages: the same status and message the API would give (a 500 with
 * its correlation id only), or the sign-in page when the session is gone.
 */
@Catch()
export class OpsExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const body = toErrorBody(exception, request.id);
    if (body.statusCode === 401) {
      void reply.redirect(`${OPS_PATH}/sign-in`, 303);
      return;
    }
    void renderPage(request, reply, 'error', { title: body.error, error: body }, body.statusCode);
  }
}
