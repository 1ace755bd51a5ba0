import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isUUID } from 'class-validator';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditTrail } from '../platform/audit/audit-trail.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { conflict, invalid, notFound } from '../common/domain-error.js';
import { decodeCursor, type ListedRow, type Page, pageLimit, pageOf, type PageQuery } from '../platform/http/pagination.js';
import { MarketsService } from '../markets/markets.service.js';
import type { Principal } from '../platform/http/auth.js';
import { SuspensionEffects } from '../participants/suspension-effects.js';
import type { NodeStatus } from './inference-node.entity.js';
import type { NodeView } from './nodes.dto.js';
import { checkNodeUrls } from './node-urls.js';
import { parseEd25519PublicKey } from './public-key.js';

/** A node as other modules use it; metering verifies batch signatures with `publicKey`. */
export interface InferenceNodeSpec {
  readonly id: string;
  readonly providerId: string;
  readonly modelClassId: string;
  readonly name: string | null;
  readonly baseUrl: string;
  readonly metricsUrl: string;
  /** Ed25519, base64 of the SPKI DER (`nodePublicKey` turns it into a KeyObject). */
  readonly publicKey: string;
  readonly tokensPerSecond: number;
  readonly status: NodeStatus;
}

/** What a provider's enabled nodes of one model class declare they serve together. */
export interface NodeCapacity {
  readonly activeNodes: number;
  readonly tokensPerSecond: bigint;
}

export interface NodeRegistration {
  readonly modelClassId: string;
  readonly baseUrl: string;
  readonly metricsUrl: string;
  readonly publicKey: string;
  readonly tokensPerSecond: number;
  readonly name?: string;
}

export interface NodeChanges {
  readonly status?: NodeStatus;
  readonly tokensPerSecond?: number;
  readonly baseUrl?: string;
  readonly metricsUrl?: string;
  readonly name?: string;
}

interface NodeRecord {
  id: string;
  provider_id: string;
  model_class_id: string;
  name: string | null;
  base_url: string;
  metrics_url: string;
  public_key: string;
  tokens_per_second: number;
  status: NodeStatus;
  created_at: Date;
  updated_at: Date;
}

const NODE_COLUMNS = 'id, provider_id, model_class_id, name, base_url, metrics_url, public_key, tokens_per_second, status, created_at, updated_at';
const NODE_NOT_FOUND = () => notFound('NODE_NOT_FOUND', 'no such node');

const nodeSpec = (r: NodeRecord): InferenceNodeSpec => ({
  id: r.id,
  providerId: r.provider_id,
  modelClassId: r.model_class_id,
  name: r.name,
  baseUrl: r.base_url,
  metricsUrl: r.metrics_url,
  publicKey: r.public_key,
  tokensPerSecond: r.tokens_per_second,
  status: r.status,
});

const nodeView = (r: NodeRecord): NodeView => ({ ...nodeSpec(r), createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString() });

/**
 * Providers' inference nodes (market-rules §7): registered and managed by their provider, seen
 * only by it. The order path sums their declared capacity; metering checks signatures with
 * their keys. Registration and changes are recorded in the audit trail: they decide whose
 * signed usage moves money.
 */
@Injectable()
export class NodesService implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly markets: MarketsService,
    private readonly audit: AuditTrail,
    private readonly suspension: SuspensionEffects,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A suspended provider's nodes are disabled in its suspension's transaction. */
  onModuleInit(): void {
    this.suspension.disablesNodes((manager, providerId) => this.disableAllOf(manager, providerId));
  }

  async register(actor: Principal, request: NodeRegistration): Promise<NodeView> {
    const publicKey = parseEd25519PublicKey(request.publicKey);
    if (!publicKey.ok) throw invalid('VALIDATION_FAILED', `publicKey ${publicKey.reason}`, { fields: ['publicKey'] });
    await checkNodeUrls({ baseUrl: request.baseUrl, metricsUrl: request.metricsUrl }, this.config.nodeUrls.allowPrivate);
    return this.dataSource.transaction(async (manager) => {
      if (!(await this.markets.modelClass(request.modelClassId, manager))) throw notFound('MODEL_CLASS_NOT_FOUND', 'no such model class');
      const [row]: NodeRecord[] = await manager.query(
        `INSERT INTO inference_nodes (provider_id, model_class_id, name, base_url, metrics_url, public_key, tokens_per_second)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (public_key) DO NOTHING RETURNING ${NODE_COLUMNS}`,
        [actor.participantId, request.modelClassId, request.name?.trim() ?? null, request.baseUrl, request.metricsUrl, publicKey.value, request.tokensPerSecond],
      );
      // One key, one node: otherwise a signed batch could not be attributed to a single node.
      if (!row) throw conflict('NODE_PUBLIC_KEY_EXISTS', 'this public key is already registered to a node');
      await this.audit.record(manager, {
        actorId: actor.participantId,
        action: 'node.register',
        subjectType: 'node',
        subjectId: row.id,
        details: { modelClassId: row.model_class_id, tokensPerSecond: row.tokens_per_second, publicKey: row.public_key },
      });
      return nodeView(row);
    });
  }

  async list(actor: Principal, query: PageQuery): Promise<Page<NodeView>> {
    return this.listOf(actor.participantId, query);
  }

  /** A provider's nodes: its own list, or an admin's view of it (the ops console's participant page). */
  async listOf(providerId: string, query: PageQuery): Promise<Page<NodeView>> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows: Array<NodeRecord & ListedRow> = await this.dataSource.query(
      `SELECT ${NODE_COLUMNS}, created_at::text AS cursor_at FROM inference_nodes
        WHERE provider_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY created_at, id LIMIT $4`,
      [providerId, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.cursor_at, r.id], nodeView);
  }

  /**
   * Disables every enabled node of a provider (its suspension): new spot sells need enabled
   * capacity, and what was sold already stays owed. Answers the ids it disabled; the caller's
   * audit event names them. Nodes are not re-enabled on resumption: the provider does that.
   */
  async disableAllOf(manager: EntityManager, providerId: string): Promise<string[]> {
    const [rows]: [Array<{ id: string }>] = await manager.query(
      `UPDATE inference_nodes SET status = 'disabled', updated_at = now() WHERE provider_id = $1 AND status = 'enabled' RETURNING id`,
      [providerId],
    );
    return rows.map((r) => r.id);
  }

  /** The caller's own node; another provider's is NODE_NOT_FOUND, as if it did not exist. */
  async get(actor: Principal, id: string): Promise<NodeView> {
    const [row]: NodeRecord[] = await this.dataSource.query(
      `SELECT ${NODE_COLUMNS} FROM inference_nodes WHERE id = $1 AND provider_id = $2`,
      [id, actor.participantId],
    );
    if (!row) throw NODE_NOT_FOUND();
    return nodeView(row);
  }

  /**
   * Changes what the node declares. Lower capacity or a disabled node binds new spot sells only:
   * what was sold already stays owed.
   */
  async update(actor: Principal, id: string, changes: NodeChanges): Promise<NodeView> {
    await checkNodeUrls({ baseUrl: changes.baseUrl, metricsUrl: changes.metricsUrl }, this.config.nodeUrls.allowPrivate);
    return this.dataSource.transaction(async (manager) => {
      const [[row]]: [NodeRecord[]] = await manager.query(
        `UPDATE inference_nodes
            SET status = coalesce($3, status), tokens_per_second = coalesce($4, tokens_per_second), base_url = coalesce($5, base_url),
                metrics_url = coalesce($6, metrics_url), name = coalesce($7, name), updated_at = now()
          WHERE id = $1 AND provider_id = $2
         RETURNING ${NODE_COLUMNS}`,
        [id, actor.participantId, changes.status ?? null, changes.tokensPerSecond ?? null, changes.baseUrl ?? null, changes.metricsUrl ?? null, changes.name?.trim() ?? null],
      );
      if (!row) throw NODE_NOT_FOUND();
      await this.audit.record(manager, { actorId: actor.participantId, action: 'node.update', subjectType: 'node', subjectId: id, details: { ...changes } });
      return nodeView(row);
    });
  }

  /**
   * The enabled nodes of a provider for a model class and the tokens per second they declare
   * together. A spot sell fits if open spot sells plus undelivered spot deliveries stay within
   * `tokensPerSecond × spotWindowSeconds` (market-rules §4). Pass the order's transaction.
   */
  async capacityOf(providerId: string, modelClassId: string, manager: EntityManager = this.dataSource.manager): Promise<NodeCapacity> {
    const [row]: Array<{ nodes: number; tokens_per_second: string }> = await manager.query(
      `SELECT count(*)::int AS nodes, coalesce(sum(tokens_per_second), 0)::text AS tokens_per_second FROM inference_nodes
        WHERE provider_id = $1 AND model_class_id = $2 AND status = 'enabled'`,
      [providerId, modelClassId],
    );
    return { activeNodes: row.nodes, tokensPerSecond: BigInt(row.tokens_per_second) };
  }

  /** `capacityOf` for several providers in one query; providers without an enabled node are absent. */
  async enabledCapacities(providerIds: readonly string[], modelClassId: string): Promise<Map<string, NodeCapacity>> {
    if (providerIds.length === 0) return new Map();
    const rows: Array<{ provider_id: string; nodes: number; tokens_per_second: string }> = await this.dataSource.query(
      `SELECT provider_id, count(*)::int AS nodes, sum(tokens_per_second)::text AS tokens_per_second FROM inference_nodes
        WHERE provider_id = ANY($1::uuid[]) AND model_class_id = $2 AND status = 'enabled' GROUP BY provider_id`,
      [providerIds, modelClassId],
    );
    return new Map(rows.map((r) => [r.provider_id, { activeNodes: r.nodes, tokensPerSecond: BigInt(r.tokens_per_second) }]));
  }

  /**
   * Any node, enabled or not, whoever owns it: for metering, which checks the owner itself. An id
   * that is not a UUID (a forged X-Tokex-Node header) is simply unknown.
   */
  async nodeById(id: string, manager: EntityManager = this.dataSource.manager): Promise<InferenceNodeSpec | undefined> {
    if (!isUUID(id)) return undefined;
    const [row]: NodeRecord[] = await manager.query(`SELECT ${NODE_COLUMNS} FROM inference_nodes WHERE id = $1`, [id]);
    return row && nodeSpec(row);
  }
}
