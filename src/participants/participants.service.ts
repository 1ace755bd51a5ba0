import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
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

  async create(actor: Principal, name: string, roles: Role[]): Promise<CreatedParticipantView> {
    const key = generateApiKey();
    return this.dataSource.transaction(async (manager) => {
      const participant = await this.insertParticipant(manager, name, roles);
      const apiKey = await this.insertKey(manager, participant.id, key, null);
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'participant.create',
        subjectType: 'participant',
        subjectId: participant.id,
        details: { roles },
      });
      return { participant, apiKey };
    });
  }

  async list(query: PageQuery): Promise<Page<ParticipantView>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, 2);
    const rows: Array<ParticipantRecord & ListedRow> = await this.dataSource.query(
      `SELECT id, name, roles, status, created_at, created_at::text AS cursor_at FROM participants
        WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid)
        ORDER BY created_at, id LIMIT $3`,
      [after?.[0] ?? null, after?.[1] ?? null, limit + 1],
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

  async update(actor: Principal, id: string, changes: { name?: string; status?: ParticipantStatus }): Promise<ParticipantView> {
    if (changes.status === 'suspended' && id === actor.participantId) {
      throw conflict('CANNOT_SUSPEND_SELF', 'an admin cannot suspend itself');
    }
    const updated = await this.dataSource.transaction(async (manager) => {
      const [[row]]: [ParticipantRecord[]] = await manager.query(
        `UPDATE participants SET name = coalesce($2, name), status = coalesce($3, status) WHERE id = $1
         RETURNING id, name, roles, status, created_at`,
        [id, changes.name ?? null, changes.status ?? null],
      );
      if (!row) throw PARTICIPANT_NOT_FOUND();
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'participant.update',
        subjectType: 'participant',
        subjectId: id,
        details: { ...changes },
      });
      return participantView(row);
    });
    this.authenticator.invalidate({ participantId: id });
    return updated;
  }

  /** A new key for a participant (admin or self); with `replaces`, the old key is revoked in the same step. */
  async createKey(actor: Principal, participantId: string, label?: string, replaces?: string): Promise<NewApiKeyView> {
    await this.get(actor, participantId); // 404 unless visible to the caller
    const key = generateApiKey();
    const created = await this.dataSource.transaction(async (manager) => {
      if (replaces !== undefined) await this.revokeKeyIn(manager, actor, replaces, participantId);
      const view = await this.insertKey(manager, participantId, key, label ?? null);
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'api-key.create',
        subjectType: 'api-key',
        subjectId: view.id,
        details: { participantId, replaces: replaces ?? null },
      });
      return view;
    });
    if (replaces !== undefined) this.authenticator.invalidate({ apiKeyId: replaces });
    return created;
  }

  async listKeys(actor: Principal, participantId: string, query: PageQuery): Promise<Page<ApiKeyView>> {
    await this.get(actor, participantId);
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, 2);
    const rows: Array<ApiKeyRecord & ListedRow> = await this.dataSource.query(
      `SELECT id, participant_id, prefix, label, created_at, revoked_at, created_at::text AS cursor_at FROM api_keys
        WHERE participant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY created_at, id LIMIT $4`,
      [participantId, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], apiKeyView);
  }

  async revokeKey(actor: Principal, keyId: string): Promise<ApiKeyView> {
    const revoked = await this.dataSource.transaction((manager) => this.revokeKeyIn(manager, actor, keyId));
    this.authenticator.invalidate({ apiKeyId: keyId });
    return revoked;
  }

  private async revokeKeyIn(manager: EntityManager, actor: Principal, keyId: string, ofParticipant?: string): Promise<ApiKeyView> {
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
    await this.audit.record(manager, { actorId: actor.participantId, action: 'api-key.revoke', subjectType: 'api-key', subjectId: keyId });
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
