import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, forbidden, invalid, notFound } from '../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { JobSlots } from '../platform/jobs/job-slots.js';
import { Outbox } from '../platform/jobs/outbox.js';
import type { Principal } from '../platform/http/auth.js';
import { ForegroundLatency } from '../platform/observability/foreground-latency.js';
import { MetricsService } from '../platform/observability/metrics.service.js';
import { DEFAULT_INGEST_THROTTLE, IngestThrottle } from './core/ingest-throttle.js';
import { billableTokens } from './core/verification.js';
import type { BuyerReportDto } from './metering.dto.js';
import { parseUsageBatch, type RejectedRecord, UsageBatchError, verifyUsageBatchSignature } from '../protocol/usage-batch.js';
import { participantStatusForShareSql } from '../participants/participant-status.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface IngestAnswer {
  readonly batchId: string;
  readonly status: 'queued';
  /** Request ids stored for verification. */
  readonly accepted: string[];
  /** Request ids already counted (in an earlier batch): ignored here. */
  readonly duplicates: string[];
  /** Records refused as malformed, with the reason, by their place in the batch. */
  readonly rejected: RejectedRecord[];
}

export interface NodeKey {
  id: string;
  provider_id: string;
  public_key: string;
  input_weight_bps: number;
}

/** The process's ingest throttle (null when INGEST_YIELD_TARGET_MS is 0): a provider, so a test can drive it. */
export const INGEST_THROTTLE = Symbol('INGEST_THROTTLE');
export const ingestThrottleProvider = {
  provide: INGEST_THROTTLE,
  inject: [APP_CONFIG],
  useFactory: ({ metering }: AppConfig): IngestThrottle | null =>
    metering.ingestYieldTargetMs > 0 ? new IngestThrottle({ ...DEFAULT_INGEST_THROTTLE, targetMs: metering.ingestYieldTargetMs }, performance.now()) : null,
};

/**
 * Ingest of nodes' signed usage batches and buyers' own reports (market-rules §7). The signature
 * is checked before anything is stored; the raw batch and its records are stored in one
 * transaction with the outbox row of its verification, so the answer is quick and durable, and
 * verification runs on the metering queue. A batch id, and a request id per node, count once: a
 * resent batch gets its first answer again.
 */
@Injectable()
export class MeteringService {
  /**
   * Batches ingested at once (checked, parsed, stored: about 10 ms of this process's CPU and a
   * pooled connection each): a fifth of the pool, at least one. The others wait here, not in the
   * pool's queue, so a fleet posting batches never holds the connections order entry needs.
   */
  private readonly ingesting: JobSlots;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: Outbox,
    @Inject(APP_CONFIG) config: AppConfig,
    /** How fast records may be stored while this process's order entry is busy: null without INGEST_YIELD_TARGET_MS. */
    @Inject(INGEST_THROTTLE) private readonly throttle: IngestThrottle | null,
    foreground: ForegroundLatency,
    metrics: MetricsService,
  ) {
    this.ingesting = new JobSlots(Math.max(1, Math.floor(config.database.poolSize / 5)));
    if (throttle) {
      foreground.onReport((latencyMs, now) => throttle.observe(latencyMs, now));
      metrics.gauge('tokex_ingest_allowed_records_per_second', 'Usage records a second this process stores while its order entry is busy (ingest yields to it)', [], async (gauge) => {
        gauge.set(throttle.recordsPerSecond);
      });
    }
  }

  /**
   * The registered node a batch names, checked from its headers alone: the usage-batch route's
   * large body is read only for a request that passes (usage-batch-gate.ts), and then signed.
   */
  async batchSender(nodeId: string | undefined, signature: string | undefined): Promise<NodeKey> {
    if (!nodeId || !UUID.test(nodeId)) throw new DomainError('UNKNOWN_NODE', 'X-Tokex-Node must name a registered node (its id)', 'unauthenticated');
    if (!signature) throw new DomainError('BAD_SIGNATURE', 'X-Tokex-Signature is missing', 'unauthenticated');
    const [node]: NodeKey[] = await this.dataSource.query(
      `SELECT n.id, n.provider_id, n.public_key, m.input_weight_bps FROM inference_nodes n JOIN model_classes m ON m.id = n.model_class_id WHERE n.id = $1`,
      [nodeId],
    );
    if (!node) throw new DomainError('UNKNOWN_NODE', 'no node with that id is registered', 'unauthenticated');
    return node;
  }

  /**
   * One signed batch: `body` is the request's bytes as received, `nodeId` and `signature` its
   * X-Tokex-Node and X-Tokex-Signature headers. The signature is checked before anything else.
   * `sender`: the node the route's gate already read for these headers, if it did.
   */
  async ingest(body: Buffer | undefined, nodeId: string | undefined, signature: string | undefined, sender?: NodeKey): Promise<{ first: boolean; answer: IngestAnswer }> {
    const node = sender && sender.id === nodeId && signature ? sender : await this.batchSender(nodeId, signature); // and signature is present
    return this.ingesting.run(() => this.ingestFrom(node, body, signature!));
  }

  /**
   * Waits for the records' turn (IngestThrottle), or refuses the batch with 503 INGEST_BUSY and a
   * retry hint when the wait would be too long: the node agent posts it again later (resends are
   * answered as the first).
   */
  private async yieldToOrderEntry(records: number): Promise<void> {
    if (this.throttle === null || records === 0) return;
    const waitMs = this.throttle.admit(records, performance.now());
    if (waitMs === undefined) {
      throw new DomainError('INGEST_BUSY', 'order entry on this process is busy, and usage batches wait for it; post this one again later', 'unavailable', {
        retryAfterSeconds: Math.max(1, Math.ceil(this.throttle.owedMs / 1000)),
      });
    }
    if (waitMs > 0) await sleep(waitMs);
  }

  private async ingestFrom(node: NodeKey, body: Buffer | undefined, signature: string): Promise<{ first: boolean; answer: IngestAnswer }> {
    if (!body || !verifyUsageBatchSignature(body, signature, node.public_key)) {
      throw new DomainError('BAD_SIGNATURE', 'X-Tokex-Signature does not verify the body with the node’s registered public key', 'unauthenticated');
    }
    let parsed: ReturnType<typeof parseUsageBatch>;
    try {
      parsed = parseUsageBatch(body, node.id);
    } catch (error) {
      if (error instanceof UsageBatchError) throw invalid('VALIDATION_FAILED', error.message, { fields: [error.message.split(' ')[0]] });
      throw error;
    }
    const { batch, valid, rejected } = parsed;
    await this.yieldToOrderEntry(valid.length);
    return this.dataSource.transaction(async (manager) => {
      // A suspended provider's nodes report nothing more (issue 14): refused after the signature, so only the node learns why.
      // The provider's row is share-locked first, so no batch commits behind a suspension it did not see; then the batch row.
      const [stored]: Array<{ status: string | null; created: boolean; answer: IngestAnswer | null }> = await manager.query(
        `WITH provider AS (${participantStatusForShareSql('$3')}),
              created AS (INSERT INTO usage_batches (node_id, batch_id, provider_id, body, signature, record_count, answer)
                          SELECT $1, $2, $3, $4, $5, $6, '{}' FROM provider WHERE status = 'active'
                          ON CONFLICT (node_id, batch_id) DO NOTHING RETURNING batch_id)
         SELECT (SELECT status FROM provider) AS status, EXISTS (SELECT 1 FROM created) AS created,
                (SELECT answer FROM usage_batches WHERE node_id = $1 AND batch_id = $2) AS answer`,
        [node.id, batch.batchId, node.provider_id, body.toString('utf8'), signature, batch.records.length],
      );
      if (stored.status !== 'active') throw forbidden('PARTICIPANT_SUSPENDED', "this node's provider is suspended: its usage batches are refused");
      if (!stored.created) {
        // A resend; the first may have committed after this statement's snapshot, while it waited on the first's row.
        const [first] = stored.answer ? [stored] : await manager.query(`SELECT answer FROM usage_batches WHERE node_id = $1 AND batch_id = $2`, [node.id, batch.batchId]);
        return { first: false, answer: first.answer as IngestAnswer };
      }
      const r = valid;
      const inserted: Array<{ request_id: string }> =
        r.length === 0
          ? []
          : await manager.query(
              `INSERT INTO usage_records (node_id, request_id, batch_id, delivery_id, key_id, output_sha256, model, prompt_tokens, completion_tokens,
                                          started_at, finished_at, ttft_ms, status, stream, reported_billable)
               SELECT $1, v.request_id, $3, v.delivery_id, v.key_id, v.output_sha256, v.model, v.prompt_tokens, v.completion_tokens, v.started_at, v.finished_at,
                      v.ttft_ms, v.status, v.stream, v.reported_billable
                 FROM unnest($2::text[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::int[], $9::int[], $10::timestamptz[], $11::timestamptz[],
                             $12::int[], $13::text[], $14::boolean[], $15::bigint[])
                   AS v(request_id, delivery_id, key_id, output_sha256, model, prompt_tokens, completion_tokens, started_at, finished_at, ttft_ms, status, stream, reported_billable)
               ON CONFLICT (node_id, request_id) DO NOTHING RETURNING request_id`,
              [
                node.id,
                r.map((x) => x.requestId),
                batch.batchId,
                r.map((x) => x.deliveryId),
                r.map((x) => x.keyId ?? null),
                r.map((x) => x.outputSha256 ?? null),
                r.map((x) => x.model),
                r.map((x) => x.promptTokens),
                r.map((x) => x.completionTokens),
                r.map((x) => x.startedAt),
                r.map((x) => x.finishedAt),
                r.map((x) => x.ttftMs),
                r.map((x) => x.status ?? 'ok'),
                r.map((x) => x.stream ?? false),
                r.map((x) => String(billableTokens(x.promptTokens, x.completionTokens, node.input_weight_bps))),
              ],
            );
      const fresh = new Set(inserted.map((x) => x.request_id));
      const answer: IngestAnswer = {
        batchId: batch.batchId,
        status: 'queued',
        accepted: r.filter((x) => fresh.has(x.requestId)).map((x) => x.requestId),
        duplicates: r.filter((x) => !fresh.has(x.requestId)).map((x) => x.requestId),
        rejected,
      };
      await manager.query(`UPDATE usage_batches SET answer = $3 WHERE node_id = $1 AND batch_id = $2`, [node.id, batch.batchId, JSON.stringify(answer)]);
      if (fresh.size > 0) await this.outbox.add(manager, 'metering.verify-batch', `${node.id}:${batch.batchId}`, { nodeId: node.id, batchId: batch.batchId });
      return { first: true, answer };
    });
  }

  /** A buyer's own counts for requests it sent under one of its deliveries; the first report of a request stands. */
  async buyerReport(actor: Principal, dto: BuyerReportDto): Promise<{ accepted: number; duplicates: number }> {
    const [delivery] = await this.dataSource.query(`SELECT id FROM deliveries WHERE id = $1 AND buyer_id = $2`, [dto.deliveryId, actor.participantId]);
    if (!delivery) throw notFound('DELIVERY_NOT_FOUND', 'no such delivery');
    return this.dataSource.transaction(async (manager) => {
      const inserted: Array<{ request_id: string }> = await manager.query(
        `INSERT INTO buyer_reports (delivery_id, request_id, buyer_id, prompt_tokens, completion_tokens)
         SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::int[], $5::int[]) ON CONFLICT DO NOTHING RETURNING request_id`,
        [
          dto.deliveryId,
          dto.records.map((x) => x.requestId),
          dto.records.map(() => actor.participantId),
          dto.records.map((x) => x.promptTokens),
          dto.records.map((x) => x.completionTokens),
        ],
      );
      // Reports of requests already verified are compared now; the others when their batch is.
      if (inserted.length > 0) {
        await this.outbox.add(manager, 'metering.check-buyer-reports', `${dto.deliveryId}:${inserted[0].request_id}:${inserted.length}`, {
          deliveryId: dto.deliveryId,
          requestIds: inserted.map((x) => x.request_id),
        });
      }
      return { accepted: inserted.length, duplicates: dto.records.length - inserted.length };
    });
  }
}
