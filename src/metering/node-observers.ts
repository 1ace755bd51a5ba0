import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { DeliveryKeysService } from '../delivery-keys/delivery-keys.service.js';
import { HandlesJob, type JobHandler } from '../platform/jobs/job-handler.js';
import { outboundRequest } from '../platform/net/outbound-http.js';
import { nodeOwesDeliveryAt } from '../probes/node-prober.js';
import { beyondTolerance } from './core/verification.js';
import { tokenizerFor } from '../markets/tokenizers.js';
import { DisputesRepository } from './disputes.repository.js';

/** Nodes that owe a delivery now: enabled, with an open window of their provider and model class. */
const NODES_OWING_NOW = `SELECT n.id, n.provider_id, n.model_class_id, n.base_url, n.metrics_url, m.tokenizer
   FROM inference_nodes n JOIN model_classes m ON m.id = n.model_class_id
  WHERE ${nodeOwesDeliveryAt('now()')}
  ORDER BY n.id`;

/** A node's answers are read up to these sizes (a bigger one is a failed scrape or audit), and an audit waits this long. */
const MAX_METRICS_BYTES = 1024 * 1024;
const MAX_COMPLETION_BYTES = 1024 * 1024;
const AUDIT_TIMEOUT_MS = 30_000;

interface OwingNode {
  id: string;
  provider_id: string;
  model_class_id: string;
  base_url: string;
  metrics_url: string;
  tokenizer: string;
}

/** The three vLLM counters, summed over their label sets, from Prometheus text; undefined if absent. */
export function parseVllmCounters(text: string): { prompt: number; generation: number; success: number } | undefined {
  const totals = { prompt: 0, generation: 0, success: 0 };
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^(vllm:prompt_tokens_total|vllm:generation_tokens_total|vllm:request_success_total)(\{[^}]*\})?\s+([0-9.eE+-]+)/.exec(line.trim());
    if (!match) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const key = match[1] === 'vllm:prompt_tokens_total' ? 'prompt' : match[1] === 'vllm:generation_tokens_total' ? 'generation' : 'success';
    totals[key] += value;
    seen.add(key);
  }
  return seen.has('prompt') && seen.has('generation') ? totals : undefined;
}

/**
 * Scrapes the token counters of every node that owes a delivery (job `metering.scrape-counters`),
 * for reconciliation: the verification of a batch compares what the node reported with how much
 * its own counters grew (docs/metering.md).
 */
@Injectable()
@HandlesJob('metering.scrape-counters')
export class CounterScrapeJob implements JobHandler<'metering.scrape-counters'> {
  private readonly logger = new Logger(CounterScrapeJob.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async handle(): Promise<void> {
    const nodes: OwingNode[] = await this.dataSource.query(NODES_OWING_NOW);
    const samples = await Promise.all(
      nodes.map(async (node) => {
        // Stamped when the scrape is sent, not when its body arrives: a request that finished before
        // the stamp is then surely in the counters, however long the answer takes to reach us (a
        // stamp on arrival made honest nodes look like they over-reported under load).
        const at = new Date();
        try {
          const response = await outboundRequest(node.metrics_url, {
            timeoutMs: this.config.jobs.nodeProbeTimeoutMs,
            maxBytes: MAX_METRICS_BYTES,
            allowPrivate: this.config.nodeUrls.allowPrivate,
          });
          const counters = response.ok ? parseVllmCounters(response.text()) : undefined;
          return counters ? { node: node.id, at, ...counters } : undefined;
        } catch (error) {
          this.logger.warn({ node: node.id, err: (error as Error).message }, 'could not scrape node counters');
          return undefined;
        }
      }),
    );
    const got = samples.filter((s) => s !== undefined);
    if (got.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO node_counter_samples (node_id, scraped_at, prompt_tokens_total, generation_tokens_total, request_success_total)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::numeric[], $4::numeric[], $5::numeric[])`,
      [got.map((s) => s.node), got.map((s) => s.at), got.map((s) => s.prompt), got.map((s) => s.generation), got.map((s) => s.success)],
    );
  }
}

/** Prompts of the exchange's audit requests: plain text, so the re-count has no chat template to guess. */
const AUDIT_PROMPTS = [
  'Summarise the rules of a continuous double auction in two sentences.',
  'List three reasons a buyer might hedge future inference costs.',
  'Explain what a performance bond is to a new provider.',
  'Write a short note on exactly-once settlement.',
];

/**
 * The exchange's own audits (job `metering.audit-nodes`, market-rules §7): for each node that owes
 * a delivery, one request through the node's API with an audit delivery key, the answer's text
 * re-counted with the model class's tokenizer and compared with the node's `usage` answer; the
 * node's later report of the same request is compared by the batch verification. Audit requests
 * are never billed to the buyer.
 */
@Injectable()
@HandlesJob('metering.audit-nodes')
export class NodeAuditJob implements JobHandler<'metering.audit-nodes'> {
  private readonly logger = new Logger(NodeAuditJob.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: DeliveryKeysService,
    private readonly disputes: DisputesRepository,
  ) {}

  async handle(): Promise<void> {
    const nodes: OwingNode[] = await this.dataSource.query(NODES_OWING_NOW);
    for (const node of nodes) await this.audit(node).catch((error) => this.logger.warn({ node: node.id, err: (error as Error).message }, 'audit failed'));
  }

  /** One audit request through `node`; returns what was stored. */
  async audit(node: OwingNode): Promise<{ requestId: string | null; ok: boolean }> {
    const [delivery] = await this.dataSource.query(
      `SELECT id, buyer_id FROM deliveries WHERE provider_id = $1 AND model_class_id = $2 AND status = 'open' AND window_start <= now() AND window_end > now()
        ORDER BY window_end DESC LIMIT 1`,
      [node.provider_id, node.model_class_id],
    );
    if (!delivery) return { requestId: null, ok: false };
    const key = await this.keys.issue({
      deliveryId: delivery.id,
      buyerId: delivery.buyer_id,
      providerId: node.provider_id,
      modelClassId: node.model_class_id,
      kind: 'audit',
      expiresAt: new Date(Date.now() + 5 * 60_000),
    });
    const prompt = `${AUDIT_PROMPTS[Math.floor(Math.random() * AUDIT_PROMPTS.length)]} (audit ${randomUUID().slice(0, 8)})`;
    let requestId: string | null = null;
    let answered: { prompt: number; completion: number } | undefined;
    let recounted: number | null = null;
    let error: string | null = null;
    try {
      // A redirect is a failed audit (never followed); the answer is capped in size and time.
      const response = await outboundRequest(`${node.base_url.replace(/\/$/, '')}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.token}` },
        body: JSON.stringify({ model: node.model_class_id, prompt, max_tokens: this.config.metering.auditMaxTokens, stream: false }),
        timeoutMs: AUDIT_TIMEOUT_MS,
        maxBytes: MAX_COMPLETION_BYTES,
        allowPrivate: this.config.nodeUrls.allowPrivate,
      });
      if (!response.ok) throw new Error(`node answered ${response.status}`);
      const body = JSON.parse(response.text()) as { id?: string; choices?: Array<{ text?: string }>; usage?: { prompt_tokens?: number; completion_tokens?: number } };
      // The id the node will report the request under (api.md), else the response's own id.
      requestId = response.header('x-tokex-request-id') ?? (typeof body.id === 'string' ? body.id : null);
      const text = body.choices?.map((c) => c.text ?? '').join('') ?? '';
      const tokenizer = tokenizerFor(node.tokenizer);
      recounted = tokenizer ? tokenizer.count(text) : null;
      if (body.usage && Number.isSafeInteger(body.usage.prompt_tokens) && Number.isSafeInteger(body.usage.completion_tokens)) {
        answered = { prompt: body.usage.prompt_tokens!, completion: body.usage.completion_tokens! };
      }
    } catch (e) {
      error = (e as Error).message;
    }
    const ok = error === null;
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO node_audits (node_id, delivery_id, request_id, ok, answered_prompt_tokens, answered_completion_tokens, recounted_completion_tokens, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [node.id, delivery.id, requestId, ok, answered?.prompt ?? null, answered?.completion ?? null, recounted, error],
      );
      // The node's own answer already disagrees with the text it returned.
      if (answered && recounted !== null && beyondTolerance(BigInt(answered.completion), BigInt(recounted))) {
        await this.disputes.open(manager, [
          {
            key: `audit-answer:${node.id}:${requestId ?? randomUUID()}`,
            deliveryId: delivery.id,
            nodeId: node.id,
            kind: 'audit_mismatch',
            tokens: 0n,
            evidence: { requestId, answeredCompletion: answered.completion, recountedCompletion: recounted, tokenizer: node.tokenizer },
          },
        ]);
      }
    });
    return { requestId, ok };
  }
}
