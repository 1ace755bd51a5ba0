import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decodeCursor, type Page, pageLimit, pageOf, type PageQuery } from '../http/pagination.js';

export interface AuditFilter {
  readonly actor?: string;
  readonly action?: string;
  readonly subjectType?: string;
  readonly subject?: string;
}

/** One recorded action: who, what, on what, why (`details.reason`) and when. */
export interface AuditEventRecord {
  readonly id: string;
  readonly actorId: string | null;
  readonly action: string;
  readonly subjectType: string;
  readonly subjectId: string;
  readonly reason: string | null;
  readonly details: Record<string, unknown>;
  readonly createdAt: string;
}

interface AuditRow {
  id: string;
  actor_id: string | null;
  action: string;
  subject_type: string;
  subject_id: string;
  details: Record<string, unknown>;
  created_at: Date;
}

const toRecord = (r: AuditRow): AuditEventRecord => ({
  id: String(r.id),
  actorId: r.actor_id,
  action: r.action,
  subjectType: r.subject_type,
  subjectId: r.subject_id,
  reason: typeof r.details.reason === 'string' ? r.details.reason : null,
  details: r.details,
  createdAt: r.created_at.toISOString(),
});

/** Reads the audit trail, newest first (its ids only grow), by actor, action and subject. */
@Injectable()
export class AuditLog {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async list(query: PageQuery & AuditFilter): Promise<Page<AuditEventRecord>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['bigint']);
    const rows: AuditRow[] = await this.dataSource.query(
      `SELECT id::text AS id, actor_id, action, subject_type, subject_id, details, created_at FROM audit_events
        WHERE ($1::bigint IS NULL OR id < $1::bigint) AND ($2::uuid IS NULL OR actor_id = $2::uuid) AND ($3::text IS NULL OR action = $3)
          AND ($4::text IS NULL OR subject_type = $4) AND ($5::text IS NULL OR subject_id = $5)
        ORDER BY audit_events.id DESC LIMIT $6`, // the bigint: `id` alone would be the text column above
      [before?.[0] ?? null, query.actor ?? null, query.action ?? null, query.subjectType ?? null, query.subject ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.id], toRecord);
  }

  /** Every action recorded so far, for a filter's choices. */
  async actions(): Promise<string[]> {
    const rows: Array<{ action: string }> = await this.dataSource.query(`SELECT DISTINCT action FROM audit_events ORDER BY action`);
    return rows.map((r) => r.action);
  }
}
