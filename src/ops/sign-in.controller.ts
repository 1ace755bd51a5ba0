import { Body, Controller, Get, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsString, MaxLength, MinLength } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import { Public } from '../platform/http/auth.js';
import { toErrorBody } from '../platform/http/exception.filter.js';
import { OpsExceptionFilter, OpsForm, redirectAfterPost, renderPage } from './ops-page.js';
import { OPS_PATH, OpsSessions, SESSION_COOKIE } from './ops-session.js';

export class SignInForm extends OpsForm {
  @IsString({ message: 'apiKey must be a string' })
  @MinLength(1, { message: 'apiKey is required' })
  @MaxLength(200, { message: 'apiKey must be at most 200 characters' })
  apiKey: string;
}

const cookieOptions = (maxAgeSeconds: number) =>
  ({ path: OPS_PATH, httpOnly: true, sameSite: 'strict', secure: 'auto', signed: true, maxAge: maxAgeSeconds }) as const;

/** Signing in with an admin API key (on a form: never in a URL), and signing out. */
@ApiExcludeController()
@Public()
@UseFilters(OpsExceptionFilter)
@Controller('ops')
export class SignInController {
  constructor(
    private readonly sessions: OpsSessions,
    private readonly audit: AuditTrail,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Get('sign-in')
  page(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return renderPage(request, reply, 'sign-in', { title: 'Sign in' });
  }

  @Post('sign-in')
  async signIn(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Body() form: SignInForm) {
    try {
      const session = await this.sessions.signIn(form.apiKey);
      await this.audit.record(this.dataSource.manager, {
        actorId: session.principal.participantId,
        action: 'ops.sign_in',
        subjectType: 'api_key',
        subjectId: session.principal.apiKeyId,
        details: { expiresAt: session.expiresAt.toISOString() },
      });
      void reply.setCookie(SESSION_COOKIE, session.cookie, cookieOptions(Math.floor(this.sessions.ttlMs / 1000)));
      return redirectAfterPost(reply, OPS_PATH);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const body = toErrorBody(error);
      return renderPage(request, reply, 'sign-in', { title: 'Sign in', error: body.message }, body.statusCode);
    }
  }

  @Post('sign-out')
  async signOut(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const principal = request.opsSession?.principal;
    if (principal) {
      await this.audit.record(this.dataSource.manager, { actorId: principal.participantId, action: 'ops.sign_out', subjectType: 'api_key', subjectId: principal.apiKeyId });
    }
    void reply.clearCookie(SESSION_COOKIE, { path: OPS_PATH });
    return redirectAfterPost(reply, `${OPS_PATH}/sign-in`);
  }
}
