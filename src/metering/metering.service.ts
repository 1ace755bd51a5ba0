import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, invalid, notFound } from '../common/domain-error.js';
import { Outbox } from '../jobs/outbox.js';
import type { Principal } from '../participants/principal.js';
import { billableTokens } from './core/verification.js';
import type { BuyerReportDto, SignedUsageBatchDto } from './metering.dto.js';
import { openUsageBatch, type UsageBatch, UsageBatchError } from './usage-batch.js';

export interface IngestAnswer {
  readonly batchId: string;
  readonly records: number;
  /** Records new to the exchange; the rest were already reported (in this batch or another). */
  readonly accepted: number;
  readonly duplicates: number;
  readonly status: 'queued';
}

interface NodeKey {
  id: string;
  provider_id: string;
  public_key: string;
  input_weight_bps: number;
}

/**
 * Ingest of nodes' signed usage batches and buyers' own reports (market-rules §7). The signature
 * is checked before anything is stored; the raw batch and its records are stored in one
 * transaction with the outbox row of its verification, so the answer is quick and durable, and
 * verification runs on the metering queue. A batch id, and a request id per node, count once: a
 * resent batch gets its first answer again.
 */
@Injectable()
export class MeteringService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: Outbox,
  ) {}

  async ingest(signed: SignedUsageBatchDto): Promise<{ first: boolean; answer: IngestAnswer }> {
    const [node]: NodeKey[] = await this.dataSource.query(
      `SELECT n.id, n.provider_id, n.public_key, m.input_weight_bps FROM inference_nodes n JOIN model_classes m ON m.id = n.model_class_id WHERE n.id = $1`,
      [signed.nodeId],
    );
    if (!node) throw new DomainError('UNKNOWN_NODE', 'no node with that id is registered', 'unauthenticated');
    let batch: UsageBatch;
    try {
      ({ batch } = openUsageBatch(signed, node.public_key));
    } catch (error) {
      if (!(error instanceof UsageBatchError)) throw error;
      if (error.problem === 'bad_signature') throw new DomainError('BAD_SIGNATURE', error.message, 'unauthenticated');
      throw invalid('VALIDATION_FAILED', `payload: ${error.message}`, { fields: ['payload'] });
    }
    return this.dataSource.transaction(async (manager) => {
      const [created] = await manager.query(
        `INSERT INTO usage_batches (id, node_id, provider_id, payload, signature, record_count, answer) VALUES ($1, $2, $3, $4, $5, $6, '{}')
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [batch.batchId, node.id, node.provider_id, signed.payload, signed.signature, batch.records.length],
      );
      if (!created) {
        const [first] = await manager.query(`SELECT answer, node_id FROM usage_batches WHERE id = $1`, [batch.batchId]);
        if (first.node_id !== node.id) throw new DomainError('BATCH_ID_TAKEN', 'another node sent a batch with this id', 'conflict');
        return { first: false, answer: first.answer as IngestAnswer };
      }
      const r = batch.records;
      const inserted: Array<{ request_id: string }> = await manager.query(
        `INSERT INTO usage_records (node_id, request_id, batch_id, delivery_id, key_id, model, prompt_tokens, completion_tokens, started_at,
                                    finished_at, ttft_ms, status, stream, reported_billable)
         SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::int[], $8::int[], $9::timestamptz[],
                                  $10::timestamptz[], $11::int[], $12::text[], $13::boolean[], $14::bigint[])
         ON CONFLICT (node_id, request_id) DO NOTHING RETURNING request_id`,
        [
          node.id,
          r.map((x) => x.requestId),
          r.map(() => batch.batchId),
          r.map((x) => x.deliveryId),
          r.map((x) => x.keyId),
          r.map((x) => x.model),
          r.map((x) => x.promptTokens),
          r.map((x) => x.completionTokens),
          r.map((x) => x.startedAt),
          r.map((x) => x.finishedAt),
          r.map((x) => x.ttftMs),
          r.map((x) => x.status),
          r.map((x) => x.stream),
          r.map((x) => String(billableTokens(x.promptTokens, x.completionTokens, node.input_weight_bps))),
        ],
      );
      const answer: IngestAnswer = { batchId: batch.batchId, records: r.length, accepted: inserted.length, duplicates: r.length - inserted.length, status: 'queued' };
      await manager.query(`UPDATE usage_batches SET answer = $2 WHERE id = $1`, [batch.batchId, JSON.stringify(answer)]);
      await this.outbox.add(manager, 'metering.verify-batch', batch.batchId, { batchId: batch.batchId });
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
          dto.requests.map((x) => x.requestId),
          dto.requests.map(() => actor.participantId),
          dto.requests.map((x) => x.promptTokens),
          dto.requests.map((x) => x.completionTokens),
        ],
      );
      // Reports of requests already verified are compared now; the others when their batch is.
      if (inserted.length > 0) {
        await this.outbox.add(manager, 'metering.check-buyer-reports', `${dto.deliveryId}:${inserted[0].request_id}:${inserted.length}`, {
          deliveryId: dto.deliveryId,
          requestIds: inserted.map((x) => x.request_id),
        });
      }
      return { accepted: inserted.length, duplicates: dto.requests.length - inserted.length };
    });
  }
}
