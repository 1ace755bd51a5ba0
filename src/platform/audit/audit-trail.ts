import { Global, Injectable, Module } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditLog } from './audit-log.js';
import { AuditLogController } from './audit-log.controller.js';
import { literal } from '../database/sql-literals.js';

export interface AuditEntry {
  readonly actorId: string | null;
  readonly action: string;
  readonly subjectType: string;
  readonly subjectId: string;
  readonly details?: Record<string, unknown>;
}

/** Records administrative actions in the same transaction as the action itself. */
@Injectable()
export class AuditTrail {
  async record(manager: EntityManager, entry: AuditEntry): Promise<void> {
    await manager.query(
      `INSERT INTO audit_events (actor_id, action, subject_type, subject_id, details) VALUES ($1, $2, $3, $4, $5)`,
      [entry.actorId, entry.action, entry.subjectType, entry.subjectId, JSON.stringify(entry.details ?? {})],
    );
  }
}

/** The same record as one SQL statement, for actions committed as a script (a book's batch). */
export function auditEventSql(entry: AuditEntry): string {
  const actor = entry.actorId === null ? 'NULL' : `${literal(entry.actorId)}::uuid`;
  return `INSERT INTO audit_events (actor_id, action, subject_type, subject_id, details)
     VALUES (${actor}, ${literal(entry.action)}, ${literal(entry.subjectType)}, ${literal(entry.subjectId)}, ${literal(JSON.stringify(entry.details ?? {}))}::jsonb)`;
}

@Global()
@Module({ controllers: [AuditLogController], providers: [AuditTrail, AuditLog], exports: [AuditTrail, AuditLog] })
export class AuditModule {}
