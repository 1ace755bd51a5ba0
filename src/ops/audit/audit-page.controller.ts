import { Controller, Get, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ParticipantsService } from '../../participants/participants.service.js';
import { AuditQuery } from '../../platform/audit/audit-log.controller.js';
import { AuditLog } from '../../platform/audit/audit-log.js';
import { Public } from '../../platform/http/auth.js';
import { OpsExceptionFilter, nextPageHref, renderPage } from '../ops-page.js';

const blankAsAbsent = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() === '' ? undefined : typeof value === 'string' ? value.trim() : value);

/** The audit log's filters as a GET form sends them: an empty box means no filter. */
export class AuditPageQuery extends AuditQuery {}
for (const field of ['actor', 'action', 'subjectType', 'subject', 'cursor'] as const) Transform(blankAsAbsent)(AuditPageQuery.prototype, field);

const PAGE_SIZE = 50;

/** The audit log: every recorded action, newest first, with who (by name), what, on what, why and when. */
@ApiExcludeController()
@Public() // the console's own session guards it (ops-http.ts)
@UseFilters(OpsExceptionFilter)
@Controller('ops')
export class AuditPageController {
  constructor(
    private readonly log: AuditLog,
    private readonly participants: ParticipantsService,
  ) {}

  @Get('audit')
  async page(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Query() query: AuditPageQuery) {
    const [page, actions] = await Promise.all([this.log.list({ ...query, limit: query.limit ?? PAGE_SIZE }), this.log.actions()]);
    const names = await this.participants.namesOf([
      ...page.items.flatMap((e) => (e.actorId ? [e.actorId] : [])),
      ...page.items.flatMap((e) => (e.subjectType === 'participant' ? [e.subjectId] : [])),
      ...(query.actor ? [query.actor] : []),
    ]);
    const filters = { actor: query.actor ?? '', action: query.action ?? '', subjectType: query.subjectType ?? '', subject: query.subject ?? '' };
    const next = nextPageHref('/ops/audit', filters, page.nextCursor);
    const events = page.items.map((e) => ({
      ...e,
      actorName: e.actorId ? (names.get(e.actorId) ?? e.actorId) : 'the service',
      subjectName: e.subjectType === 'participant' ? (names.get(e.subjectId) ?? null) : null,
      // What else the action recorded, beside its reason.
      more: Object.keys(e.details).some((k) => k !== 'reason') ? JSON.stringify(Object.fromEntries(Object.entries(e.details).filter(([k]) => k !== 'reason'))) : '',
    }));
    return renderPage(request, reply, 'audit', {
      title: 'Audit log',
      events,
      actions,
      filters,
      actorName: query.actor ? (names.get(query.actor) ?? null) : null,
      next,
    });
  }
}
