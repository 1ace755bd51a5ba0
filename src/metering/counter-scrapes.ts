import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { HandlesJob, type JobHandler } from '../platform/jobs/job-handler.js';
import { outboundRequest } from '../platform/net/outbound-http.js';
import { nodeOwesDeliveryAt } from '../probes/node-prober.js';

/** Nodes that owe a delivery now: enabled, with an open window of their provider and model class. */
const NODES_OWING_NOW = `SELECT n.id, n.metrics_url FROM inference_nodes n WHERE ${nodeOwesDeliveryAt('now()')} ORDER BY n.id`;

/** A node's metrics answer is read up to this size (a bigger one is a failed scrape). */
const MAX_METRICS_BYTES = 1024 * 1024;

interface OwingNode {
  id: string;
  metrics_url: string;
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
