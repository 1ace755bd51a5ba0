import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomInt, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { mapBounded } from '../common/map-bounded.js';
import { DeliveryKeysService } from '../delivery-keys/delivery-keys.service.js';
import { tokenizerFor } from '../markets/tokenizers.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { HandlesJob, type JobHandler } from '../platform/jobs/job-handler.js';
import { outboundRequest } from '../platform/net/outbound-http.js';
import { nodeOwesDeliveryAt } from '../probes/node-prober.js';
import { type AuditAnswer, type AuditEndpoint, readAuditAnswer } from './core/audit-answer.js';
import { beyondTolerance } from './core/verification.js';
import { DisputesRepository } from './disputes.repository.js';

/** SQL joined to a node `n`: `last.at`, its last audit's time (or, never audited, its registration). */
export const LAST_AUDIT = `CROSS JOIN LATERAL (SELECT coalesce(max(a.created_at), n.created_at) AS at FROM node_audits a WHERE a.node_id = n.id) last`;
/** SQL: how many requests node `n` reported since `last.at`, counted up to `limit` (a parameter). */
export const requestsSinceLastAudit = (limit: string) =>
  `(SELECT count(*)::int FROM (SELECT 1 FROM usage_records r WHERE r.node_id = n.id AND r.started_at > last.at LIMIT ${limit}) since)`;

/**
 * Nodes due an audit: they owe a delivery now, and their last audit (or, never audited, their
 * registration) is at least `$1` ms old, or they reported at least `$2` requests since (0: never).
 */
const DUE_NODES = `SELECT n.id, n.provider_id, n.model_class_id, n.base_url, m.tokenizer
   FROM inference_nodes n
   JOIN model_classes m ON m.id = n.model_class_id
  ${LAST_AUDIT}
  WHERE ${nodeOwesDeliveryAt('now()')}
    AND (last.at <= now() - make_interval(secs => $1::double precision / 1000)
         OR ($2::int > 0 AND ${requestsSinceLastAudit('$2')} >= $2))
  ORDER BY n.id`;

const MAX_ANSWER_BYTES = 1024 * 1024;
const AUDIT_TIMEOUT_MS = 30_000;
const AUDIT_CONCURRENCY = 8;
/** An audit key is reused for its delivery, as a buyer's is, until this close to its expiry. */
const KEY_REUSE_MARGIN_MS = 5 * 60_000;

/** Requests a buyer could send: plain prompts, no sign of who asks. */
const PROMPTS = [
  'Summarise the rules of a continuous double auction.',
  'List reasons a team might hedge future inference costs, with an example of each.',
  'Explain what a performance bond is to someone new to markets.',
  'Write a short note on exactly-once processing in payment systems.',
  'Describe how a GPU serves many language-model requests at once.',
  'Compare batch and streaming APIs for a web service.',
];

export interface AuditedNode {
  readonly id: string;
  readonly provider_id: string;
  readonly model_class_id: string;
  readonly base_url: string;
  readonly tokenizer: string;
}

/** Which API an audit goes through: both of a node's, streamed or not, as buyers' requests do. */
export interface AuditPlan {
  readonly endpoint: AuditEndpoint;
  readonly stream: boolean;
}

export interface AuditResult {
  readonly requestId: string | null;
  readonly ok: boolean;
  readonly error: string | null;
}

/**
 * The exchange's own audits (job `metering.audit-nodes`, market-rules §7, docs/metering.md). A
 * node that owes a delivery is audited every `METERING_AUDIT_INTERVAL_MS`, and also every
 * `METERING_AUDIT_EVERY_REQUESTS` requests it reports (the batch verification that sees them
 * triggers this job at once), so a busy node is checked as often as its traffic: one request
 * through its API, chat or plain completions, streamed or not, with a delivery key whose token
 * looks like any buyer's. The answer's text is re-counted with the model class's tokenizer and
 * compared with the node's `usage`; the batch verification later compares
 * it with the node's report of the same request. An audit the node refuses, fails, or answers with
 * nothing to re-count is stored as failed: breach evidence at the window's close. Audit requests
 * are never billed.
 */
@Injectable()
@HandlesJob('metering.audit-nodes')
export class NodeAuditJob implements JobHandler<'metering.audit-nodes'> {
  private readonly logger = new Logger(NodeAuditJob.name);
  /** Nodes this process is auditing now: a due node is not audited twice at once. */
  private readonly inFlight = new Set<string>();
  /** Audit keys by delivery, reused as a buyer reuses its key. */
  private readonly keys = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deliveryKeys: DeliveryKeysService,
    private readonly disputes: DisputesRepository,
  ) {}

  async handle(): Promise<void> {
    const { auditIntervalMs, auditEveryRequests } = this.config.metering;
    const due: AuditedNode[] = await this.dataSource.query(DUE_NODES, [auditIntervalMs, auditEveryRequests]);
    await mapBounded(
      due.filter((node) => !this.inFlight.has(node.id)),
      AUDIT_CONCURRENCY,
      (node) => this.audit(node).catch((error) => this.logger.warn({ node: node.id, err: (error as Error).message }, 'audit not stored')),
    );
  }

  /** One audit request through `node`, by `plan` (chosen at random when not given); returns what was stored. */
  async audit(node: AuditedNode, plan: AuditPlan = randomPlan()): Promise<AuditResult> {
    const tokenizer = await tokenizerFor(node.tokenizer);
    if (!tokenizer) {
      // Model classes are refused an unknown tokenizer; one stored before that is the exchange's fault, not the node's.
      this.logger.error({ node: node.id, tokenizer: node.tokenizer }, 'model class tokenizer not supported: node not audited');
      return { requestId: null, ok: false, error: `tokenizer ${node.tokenizer} is not supported` };
    }
    const [delivery] = await this.dataSource.query(
      `SELECT id, buyer_id, window_end FROM deliveries WHERE provider_id = $1 AND model_class_id = $2 AND status = 'open' AND window_start <= now() AND window_end > now()
        ORDER BY random() LIMIT 1`,
      [node.provider_id, node.model_class_id],
    );
    if (!delivery) return { requestId: null, ok: false, error: 'no open delivery' };
    const claimed = await this.claim(node, delivery.id, plan);
    if (!claimed) return { requestId: null, ok: false, error: 'another audit of this node is in flight' };
    this.inFlight.add(node.id);
    try {
      const token = await this.keyFor(node, delivery);
      let answer: AuditAnswer | undefined;
      let requestId: string | null = null;
      let error: string | null = null;
      try {
        const response = await outboundRequest(`${node.base_url.replace(/\/$/, '')}/${plan.endpoint === 'chat' ? 'chat/completions' : 'completions'}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(requestBody(node.model_class_id, plan, this.config.metering.auditMaxTokens)),
          timeoutMs: AUDIT_TIMEOUT_MS,
          maxBytes: MAX_ANSWER_BYTES,
          allowPrivate: this.config.nodeUrls.allowPrivate,
        });
        // A redirect is a failed audit (never followed), as is any other answer than 2xx.
        if (!response.ok) throw new Error(`node answered ${response.status}`);
        answer = readAuditAnswer(response.text(), plan.endpoint, plan.stream);
        // The id the node will report the request under (api.md), else the answer's own.
        requestId = response.header('x-tokex-request-id') ?? answer.id;
      } catch (e) {
        error = (e as Error).message;
      }
      const recounted = answer ? tokenizer.count(answer.text) : null;
      await this.store(claimed, node, delivery.id, plan, { requestId, error, answer, recounted });
      return { requestId, ok: error === null, error };
    } finally {
      this.inFlight.delete(node.id);
    }
  }

  /**
   * Claims the node's next audit: its row, written before the request is sent (`ok` null while in
   * flight), so that no other worker audits the node meanwhile (the due-nodes query sees the row).
   * Null when another audit of the node is in flight (a claim older than a minute was lost with
   * its worker, and no longer blocks).
   */
  private async claim(node: AuditedNode, deliveryId: string, plan: AuditPlan): Promise<string | null> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('tokex:node-audit:' || $1))`, [node.id]);
      const [row] = await manager.query(
        `INSERT INTO node_audits (node_id, delivery_id, ok, endpoint, stream)
         SELECT $1, $2, NULL, $3, $4
          WHERE NOT EXISTS (SELECT 1 FROM node_audits WHERE node_id = $1 AND ok IS NULL AND created_at > now() - interval '1 minute')
         RETURNING id`,
        [node.id, deliveryId, plan.endpoint, plan.stream],
      );
      return row?.id ?? null;
    });
  }

  /** The audit's outcome on its claimed row, and a dispute when the node's own answer already disagrees with its text. */
  private async store(id: string, node: AuditedNode, deliveryId: string, plan: AuditPlan, a: { requestId: string | null; error: string | null; answer?: AuditAnswer; recounted: number | null }) {
    const usage = a.answer?.usage;
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE node_audits SET request_id = $2, ok = $3, answered_prompt_tokens = $4, answered_completion_tokens = $5, recounted_completion_tokens = $6, error = $7
          WHERE id = $1`,
        [id, a.requestId, a.error === null, usage?.prompt ?? null, usage?.completion ?? null, a.recounted, a.error],
      );
      if (usage && a.recounted !== null && beyondTolerance(BigInt(usage.completion), BigInt(a.recounted))) {
        await this.disputes.open(manager, [
          {
            key: `audit-answer:${node.id}:${a.requestId ?? randomUUID()}`,
            deliveryId,
            nodeId: node.id,
            kind: 'audit_mismatch',
            tokens: 0n,
            evidence: { requestId: a.requestId, endpoint: plan.endpoint, stream: plan.stream, answeredCompletion: usage.completion, recountedCompletion: a.recounted, tokenizer: node.tokenizer },
          },
        ]);
      }
    });
  }

  /**
   * A delivery key for the audit: its row says `audit` (so the request is never billed), its token
   * says what a buyer's does, and it lives as long as a buyer's default key (the window's end).
   */
  private async keyFor(node: AuditedNode, delivery: { id: string; buyer_id: string; window_end: Date }): Promise<string> {
    const cached = this.keys.get(delivery.id);
    if (cached && cached.expiresAt - Date.now() > KEY_REUSE_MARGIN_MS) return cached.token;
    const issued = await this.deliveryKeys.issue({
      deliveryId: delivery.id,
      buyerId: delivery.buyer_id,
      providerId: node.provider_id,
      modelClassId: node.model_class_id,
      kind: 'audit',
      expiresAt: delivery.window_end,
    });
    for (const [id, key] of this.keys) if (key.expiresAt <= Date.now()) this.keys.delete(id);
    this.keys.set(delivery.id, { token: issued.token, expiresAt: issued.expiresAt.getTime() });
    return issued.token;
  }
}

function randomPlan(): AuditPlan {
  return { endpoint: randomInt(2) === 0 ? 'chat' : 'completions', stream: randomInt(2) === 0 };
}

function requestBody(model: string, plan: AuditPlan, maxTokens: number): Record<string, unknown> {
  const prompt = PROMPTS[randomInt(PROMPTS.length)];
  const input = plan.endpoint === 'chat' ? { messages: [{ role: 'user', content: prompt }] } : { prompt };
  return { model, ...input, max_tokens: maxTokens, stream: plan.stream };
}
