import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { performance } from 'node:perf_hooks';
import { DataSource, type EntityManager } from 'typeorm';
import { mapBounded } from '../common/map-bounded.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { outboundRequest } from '../platform/net/outbound-http.js';
import { type NodeProbeResult, NodeProbesRepository } from './node-probes.repository.js';
import type { ProbeVerdict } from './probe-evidence.js';

export type { NodeProbeResult } from './node-probes.repository.js';

/**
 * SQL condition on an inference node `n`: it is enabled and its provider owes a delivery of its
 * model class at `at` (an open window containing it). The nodes the exchange watches: probes here,
 * counter scrapes and audits in metering.
 */
export const nodeOwesDeliveryAt = (at: string) => `n.status = 'enabled'
  AND EXISTS (SELECT 1 FROM deliveries d
               WHERE d.provider_id = n.provider_id AND d.model_class_id = n.model_class_id
                 AND d.status = 'open' AND d.window_start <= ${at} AND d.window_end > ${at})`;

/** Probes in flight at once: enough for many nodes per round, few enough not to flood the worker. */
const PROBE_CONCURRENCY = 20;
const MAX_ERROR_LENGTH = 500;

interface DueNode {
  readonly id: string;
  readonly provider_id: string;
  readonly model_class_id: string;
  readonly base_url: string;
}

/**
 * The exchange's health probes of inference nodes (market-rules §5): while a provider owes a
 * delivery, each of its enabled nodes of that model class is asked `GET <origin>/health` (vLLM,
 * TGI and llama.cpp's server answer 200 when ready), and every answer is stored as evidence
 * (node-probes.repository.ts). At a window's close, settlement reads the verdict from the stored
 * probes through that repository (the pure rule is probe-evidence.ts); it never calls the prober.
 */
@Injectable()
export class NodeProber {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly records: NodeProbesRepository = new NodeProbesRepository(),
  ) {}

  /**
   * Probes every node that matters at `now`: enabled, and its provider has an open delivery of the
   * node's model class whose window contains `now`. Returns and stores one result per node.
   *
   * Inside a job the caller's transaction is open throughout, so the order matters: the read takes
   * no locks, the network I/O comes next, and the one write comes last, just before commit.
   */
  async probeDue(now: Date = new Date(), manager: EntityManager = this.dataSource.manager): Promise<NodeProbeResult[]> {
    const nodes: DueNode[] = await manager.query(
      `SELECT n.id, n.provider_id, n.model_class_id, n.base_url
         FROM inference_nodes n
        WHERE ${nodeOwesDeliveryAt('$1')}
        ORDER BY n.id`,
      [now],
    );
    if (nodes.length === 0) return [];
    const results = await mapBounded(nodes, PROBE_CONCURRENCY, (node) => this.probe(node));
    await this.records.insert(manager, results);
    return results;
  }

  /** The breach verdict for a provider's nodes of one model class over [windowStart, windowEnd), from the stored probes. */
  async evidence(
    providerId: string,
    modelClassId: string,
    windowStart: Date,
    windowEnd: Date,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ProbeVerdict> {
    const [verdict] = await this.records.verdicts(manager, [{ providerId, modelClassId, windowStart, windowEnd }], this.config.jobs.nodeProbeIntervalMs);
    return verdict;
  }

  /** One probe; never throws: every failure is a result. */
  private async probe(node: DueNode): Promise<NodeProbeResult> {
    const timeoutMs = this.config.jobs.nodeProbeTimeoutMs;
    const base = { nodeId: node.id, providerId: node.provider_id, modelClassId: node.model_class_id };
    const probedAt = new Date();
    const started = performance.now();
    try {
      const url = `${new URL(node.base_url).origin}/health`;
      // A redirect is not ready: answered, not followed (it could point anywhere). The status is all we read.
      const response = await outboundRequest(url, { timeoutMs, maxBytes: 0, discardBody: true, allowPrivate: this.config.nodeUrls.allowPrivate });
      const latencyMs = Math.round(performance.now() - started);
      return { ...base, probedAt, ok: response.ok, statusCode: response.status, latencyMs, error: response.ok ? null : `HTTP ${response.status}` };
    } catch (error) {
      return { ...base, probedAt, ok: false, statusCode: null, latencyMs: null, error: String((error as Error).message ?? error).slice(0, MAX_ERROR_LENGTH) };
    }
  }
}
