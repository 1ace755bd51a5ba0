import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isUUID } from 'class-validator';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import { conflict, notFound } from '../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { decodeCursor, type ListedRow, type Page, pageLimit, pageOf, type PageQuery } from '../platform/http/pagination.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { ApiKeyAuthenticator } from './api-key-authenticator.js';
import { describeApiKey, generateApiKey, type NewApiKey } from './api-key-secret.js';
import type { ApiKeyView, CreatedParticipantView, NewApiKeyView, ParticipantView } from './participants.dto.js';
import type { ParticipantStatus, Role } from './participant.entity.js';
import { isAdmin, type Principal } from '../platform/http/auth.js';
import { SuspensionEffects } from './suspension-effects.js';

export interface ParticipantChanges {
  readonly name?: string;
  readonly status?: ParticipantStatus;
  readonly roles?: Role[];
}

export interface ParticipantFilter {
  readonly role?: Role;
  readonly status?: ParticipantStatus;
  readonly name?: string;
}

/** A participant after a change, and what suspending it disabled and cancelled. */
export interface ParticipantChange {
  readonly participant: ParticipantView;
  readonly disabledNodeIds: string[];
  readonly cancelledOrderIds: string[];
}

/** The audit trail's name for a change: suspension and resumption stand out from edits. */
const updateAction = (changes: ParticipantChanges): string =>
  changes.status === 'suspended' ? 'participant.suspend' : changes.status === 'active' ? 'participant.resume' : changes.roles && !changes.name ? 'participant.roles' : 'participant.update';

interface ParticipantRecord {
  id: string;
  name: string;
  roles: Role[];
  status: ParticipantStatus;
  created_at: Date;
}

interface ApiKeyRecord {
  id: string;
  participant_id: string;
  prefix: string;
  label: string | null;
  created_at: Date;
  revoked_at: Date | null;
}


const participantView = (r: ParticipantRecord): ParticipantView => ({
  id: r.id,
  name: r.name,
  roles: r.roles,
  status: r.status,
  createdAt: r.created_at.toISOString(),
});

const apiKeyView = (r: ApiKeyRecord): ApiKeyView => ({
  id: r.id,
  participantId: r.participant_id,
  prefix: r.prefix,
  label: r.label,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

const PARTICIPANT_NOT_FOUND = () => notFound('PARTICIPANT_NOT_FOUND', 'no such participant');
const API_KEY_NOT_FOUND = () => notFound('API_KEY_NOT_FOUND', 'no such API key');

/** Participants, their roles and status, and their API keys. */
@Injectable()
export class ParticipantsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ParticipantsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly audit: AuditTrail,
    private readonly suspension: SuspensionEffects,
  ) {}

  /** BOOTSTRAP_ADMIN_KEY: the first admin, so that someone can create everyone else. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.bootstrapAdminKey) return;
    const key = describeApiKey(this.config.bootstrapAdminKey);
    await this.dataSource.transaction(async (manager) => {
      // Serialise concurrent start-ups (api and worker start together).
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('tokex:bootstrap-admin'))`);
      const [admin] = await manager.query(`SELECT 1 FROM participants WHERE 'admin' = ANY(roles) LIMIT 1`);
      if (admin) return;
      const participant = await this.insertParticipant(manager, 'Bootstrap admin', ['admin']);
      await this.insertKey(manager, participant.id, key, 'bootstrap');
      await this.audit.record(manager, { actorId: null, action: 'participant.bootstrap-admin', subjectType: 'participant', subjectId: participant.id });
      this.logger.log({ participantId: participant.id, keyPrefix: key.prefix }, 'created the first admin from BOOTSTRAP_ADMIN_KEY');
    });
  }

  async create(actor: Principal, name: string, roles: Role[], reason?: string): Promise<CreatedParticipantView> {
    const key = generateApiKey();
    return this.dataSource.transaction(async (manager) => {
      const participant = await this.insertParticipant(manager, name, roles);
      const apiKey = await this.insertKey(manager, participant.id, key, null);
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'participant.create',
        subjectType: 'participant',
        subjectId: participant.id,
        details: { reason: reason ?? null, name: participant.name, roles },
      });
      return { participant, apiKey };
    });
  }

  /** Participants in the order they joined; optionally of one role, one status, or with `name` in their name. */
  async list(query: PageQuery & ParticipantFilter): Promise<Page<ParticipantView>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows: Array<ParticipantRecord & ListedRow> = await this.dataSource.query(
      `SELECT id, name, roles, status, created_at, created_at::text AS cursor_at FROM participants
        WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
          AND ($4::text IS NULL OR $4 = ANY(roles)) AND ($5::text IS NULL OR status = $5)
          AND ($6::text IS NULL OR strpos(lower(name), lower($6)) > 0)
        ORDER BY created_at, id LIMIT $3`,
      [after?.[0] ?? null, after?.[1] ?? null, limit + 1, query.role ?? null, query.status ?? null, query.name ?? null],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], participantView);
  }

  /** A participant, if the caller may see it: itself, or anyone for an admin. */
  async get(actor: Principal, id: string): Promise<ParticipantView> {
    if (!isAdmin(actor) && actor.participantId !== id) throw PARTICIPANT_NOT_FOUND();
    const [row]: ParticipantRecord[] = await this.dataSource.query(
      `SELECT id, name, roles, status, created_at FROM participants WHERE id = $1`,
      [id],
    );
    if (!row) throw PARTICIPANT_NOT_FOUND();
    return participantView(row);
  }

  /**
   * Renames, changes roles, suspends or resumes: the one method behind PATCH /v1/participants/:id,
   * the admin suspend, resume and roles routes and the ops console. Suspending disables the
   * participant's nodes in the same transaction, then cancels its open orders on every book
   * through the books' gateway. Suspending again re-runs the cancellation (a retry after a book
   * was busy). Resuming restores the status only: nodes and orders stay as they are.
   */
  async update(actor: Principal, id: string, changes: ParticipantChanges, reason?: string): Promise<ParticipantChange> {
    if (changes.status === 'suspended' && id === actor.participantId) {
      throw conflict('CANNOT_SUSPEND_SELF', 'an admin cannot suspend itself');
    }
    if (changes.roles && !changes.roles.includes('admin') && id === actor.participantId) {
      throw conflict('CANNOT_DEMOTE_SELF', 'an admin cannot take its own admin role away');
    }
    const suspending = changes.status === 'suspended';
    const { participant, disabledNodeIds } = await this.dataSource.transaction(async (manager) => {
      const [[row]]: [ParticipantRecord[]] = await manager.query(
        `UPDATE participants SET name = coalesce($2, name), status = coalesce($3, status), roles = coalesce($4, roles) WHERE id = $1
         RETURNING id, name, roles, status, created_at`,
        [id, changes.name?.trim() ?? null, changes.status ?? null, changes.roles ?? null],
      );
      if (!row) throw PARTICIPANT_NOT_FOUND();
      const disabled = suspending ? await this.suspension.disableNodes(manager, id) : [];
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: updateAction(changes),
        subjectType: 'participant',
        subjectId: id,
        details: { reason: reason ?? null, ...changes, ...(suspending ? { disabledNodeIds: disabled } : {}) },
      });
      return { participant: participantView(row), disabledNodeIds: disabled };
    });
    this.authenticator.invalidate({ participantId: id });
    if (!suspending) return { participant, disabledNodeIds, cancelledOrderIds: [] };
    const cancelledOrderIds = await this.suspension.cancelOrders(id);
    if (cancelledOrderIds.length > 0) {
      await this.audit.record(this.dataSource.manager, {
        actorId: actor.participantId,
        action: 'participant.orders-cancelled',
        subjectType: 'participant',
        subjectId: id,
        details: { reason: reason ?? null, cause: 'participant.suspend', orderIds: cancelledOrderIds },
      });
    }
    return { participant, disabledNodeIds, cancelledOrderIds };
  }

  /** Names of participants by id, for pages that show who did what (unknown ids are absent). */
  async namesOf(ids: readonly string[]): Promise<Map<string, string>> {
    const known = [...new Set(ids)].filter((id) => isUUID(id));
    if (known.length === 0) return new Map();
    const rows: Array<{ id: string; name: string }> = await this.dataSource.query(`SELECT id, name FROM participants WHERE id = ANY($1::uuid[])`, [known]);
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  /** A new key for a participant (admin or self); with `replaces`, the old key is revoked in the same step. */
  async createKey(actor: Principal, participantId: string, label?: string, replaces?: string, reason?: string): Promise<NewApiKeyView> {
    await this.get(actor, participantId); // 404 unless visible to the caller
    const key = generateApiKey();
    const created = await this.dataSource.transaction(async (manager) => {
      if (replaces !== undefined) await this.revokeKeyIn(manager, actor, replaces, participantId, reason);
      const view = await this.insertKey(manager, participantId, key, label ?? null);
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'api-key.create',
        subjectType: 'api-key',
        subjectId: view.id,
        details: { reason: reason ?? null, participantId, prefix: view.prefix, label: view.label, replaces: replaces ?? null },
      });
      return view;
    });
    if (replaces !== undefined) this.authenticator.invalidate({ apiKeyId: replaces });
    return created;
  }

  async listKeys(actor: Principal, participantId: string, query: PageQuery): Promise<Page<ApiKeyView>> {
    await this.get(actor, participantId);
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows: Array<ApiKeyRecord & ListedRow> = await this.dataSource.query(
      `SELECT id, participant_id, prefix, label, created_at, revoked_at, created_at::text AS cursor_at FROM api_keys
        WHERE participant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY created_at, id LIMIT $4`,
      [participantId, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], apiKeyView);
  }

  async revokeKey(actor: Principal, keyId: string, reason?: string): Promise<ApiKeyView> {
    const revoked = await this.dataSource.transaction((manager) => this.revokeKeyIn(manager, actor, keyId, undefined, reason));
    this.authenticator.invalidate({ apiKeyId: keyId });
    return revoked;
  }

  private async revokeKeyIn(manager: EntityManager, actor: Principal, keyId: string, ofParticipant?: string, reason?: string): Promise<ApiKeyView> {
    const [row]: ApiKeyRecord[] = await manager.query(
      `SELECT id, participant_id, prefix, label, created_at, revoked_at FROM api_keys WHERE id = $1 FOR UPDATE`,
      [keyId],
    );
    const visible = row && (isAdmin(actor) || row.participant_id === actor.participantId);
    if (!visible || (ofParticipant !== undefined && row.participant_id !== ofParticipant)) throw API_KEY_NOT_FOUND();
    if (row.revoked_at) return apiKeyView(row); // revoking twice is harmless
    const [[updated]]: [ApiKeyRecord[]] = await manager.query(
      `UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING id, participant_id, prefix, label, created_at, revoked_at`,
      [keyId],
    );
    await this.audit.record(manager, {
      actorId: actor.participantId,
      action: 'api-key.revoke',
      subjectType: 'api-key',
      subjectId: keyId,
      details: { reason: reason ?? null, participantId: row.participant_id, prefix: row.prefix },
    });
    return apiKeyView(updated);
  }

  private async insertParticipant(manager: EntityManager, name: string, roles: Role[]): Promise<ParticipantView> {
    const [row]: ParticipantRecord[] = await manager.query(
      `INSERT INTO participants (name, roles) VALUES ($1, $2) RETURNING id, name, roles, status, created_at`,
      [name.trim(), roles],
    );
    await this.ledger.openParticipantAccounts(manager, row.id);
    return participantView(row);
  }

  private async insertKey(manager: EntityManager, participantId: string, key: NewApiKey, label: string | null): Promise<NewApiKeyView> {
    const [row]: ApiKeyRecord[] = await manager.query(
      `INSERT INTO api_keys (participant_id, prefix, key_hash, label) VALUES ($1, $2, $3, $4)
       RETURNING id, participant_id, prefix, label, created_at, revoked_at`,
      [participantId, key.prefix, key.hash, label],
    );
    return { ...apiKeyView(row), key: key.key };
  }
}
