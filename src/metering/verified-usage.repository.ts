import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { invalid, notFound } from '../common/domain-error.js';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';

export interface VerifiedUsage {
  /** The usage's business key: the same id twice counts once. */
  readonly id: string;
  readonly deliveryId: string;
  readonly tokens: bigint;
}

/**
 * Verified usage (`delivery_usage`): the tokens metering accepted for payment. Metering records it
 * as it verifies batches and resolves disputes; settlement reads the unpaid rows and has the ones
 * a payout paid marked here, in its own transaction.
 */
@Injectable()
export class VerifiedUsageRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly deliveries: DeliveriesRepository,
  ) {}

  /**
   * Records one verified usage (tests and admin resolutions). Returns whether it was new; a
   * delivery that does not exist is an error.
   */
  async record(usageId: string, deliveryId: string, tokens: bigint, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    if (tokens <= 0n) throw invalid('VALIDATION_FAILED', 'verified usage is a positive number of tokens', { fields: ['tokens'] });
    if ((await this.recordAll([{ id: usageId, deliveryId, tokens }], manager)) > 0) return true;
    const [exists] = await manager.query(`SELECT 1 FROM deliveries WHERE id = $1`, [deliveryId]);
    if (!exists) throw notFound('DELIVERY_NOT_FOUND', 'no such delivery');
    return false;
  }

  /**
   * Records many verified usages in one statement (a verified usage batch): each id counts once,
   * usage of an unknown delivery is dropped, and each delivery's `delivered_tokens` grows by what
   * was new, in the same statement. Returns how many were new.
   */
  async recordAll(usages: readonly VerifiedUsage[], manager: EntityManager): Promise<number> {
    const positive = usages.filter((u) => u.tokens > 0n);
    if (positive.length === 0) return 0;
    const [row]: Array<{ n: number }> = await manager.query(
      `WITH inserted AS (
         INSERT INTO delivery_usage (id, delivery_id, tokens)
         SELECT u.id, u.delivery_id, u.tokens FROM unnest($1::text[], $2::uuid[], $3::bigint[]) AS u(id, delivery_id, tokens)
           JOIN deliveries d ON d.id = u.delivery_id
         ON CONFLICT (id) DO NOTHING
         RETURNING delivery_id, tokens
       ), delivered AS (${this.deliveries.addDeliveredTokensSql('inserted')})
       SELECT count(*)::int AS n FROM inserted`,
      [positive.map((u) => u.id), positive.map((u) => u.deliveryId), positive.map((u) => String(u.tokens))],
    );
    return row.n;
  }

  /** The usage a settlement record paid, oldest first. */
  async paidBy(payoutId: string): Promise<Array<{ id: string; tokens: bigint; recordedAt: Date }>> {
    const rows: Array<{ id: string; tokens: string; recorded_at: Date }> = await this.dataSource.query(
      `SELECT id, tokens::text, recorded_at FROM delivery_usage WHERE payout_id = $1::bigint ORDER BY recorded_at, id`,
      [payoutId],
    );
    return rows.map((r) => ({ id: r.id, tokens: BigInt(r.tokens), recordedAt: r.recorded_at }));
  }

  /**
   * Marks usage as paid by a settlement record (`payoutId`). Returns how many rows were still
   * unpaid and are now marked: fewer than asked means another transaction paid some meanwhile.
   */
  async markPaid(manager: EntityManager, paid: ReadonlyArray<readonly [usageId: string, payoutId: string]>): Promise<number> {
    if (paid.length === 0) return 0;
    const [, marked] = await manager.query(
      `UPDATE delivery_usage u SET payout_id = v.payout FROM unnest($1::text[], $2::bigint[]) AS v(id, payout) WHERE u.id = v.id AND u.payout_id IS NULL`,
      [paid.map(([u]) => u), paid.map(([, p]) => p)],
    );
    return marked;
  }
}
