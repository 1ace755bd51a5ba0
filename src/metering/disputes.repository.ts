import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import type { NewDispute } from './core/verify-batch.js';

/** The writes to `disputes`: opened by verification and audits, resolved by an admin. */
@Injectable()
export class DisputesRepository {
  constructor(private readonly deliveries: DeliveriesRepository) {}

  /**
   * Opens disputes (once per key) and holds their tokens out of settlement: the delivery's
   * `disputed_tokens` grows by what is left room for (not the tokens already refunded to the
   * buyer), so a delivery never holds more than it sold.
   */
  async open(manager: EntityManager, disputes: readonly NewDispute[]): Promise<void> {
    for (const d of disputes) {
      const [inserted] = await manager.query(
        `INSERT INTO disputes (key, delivery_id, node_id, provider_id, buyer_id, kind, tokens, evidence)
         SELECT $1, d.id, $3, d.provider_id, d.buyer_id, $4,
                GREATEST(0, LEAST($5::bigint, d.quantity_tokens - d.paid_tokens - d.disputed_tokens - d.refunded_tokens - (SELECT coalesce(sum(u.tokens), 0) FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL))),
                $6
           FROM deliveries d WHERE d.id = $2 FOR UPDATE OF d
         ON CONFLICT (key) DO NOTHING
         RETURNING delivery_id, tokens`,
        [d.key, d.deliveryId, d.nodeId, d.kind, String(d.tokens), JSON.stringify(d.evidence)],
      );
      if (inserted && BigInt(inserted.tokens) > 0n) await this.deliveries.holdDisputedTokens(manager, inserted.delivery_id, inserted.tokens);
    }
  }

  /** Records an admin's resolution of an open dispute (locked by the caller); returns the row. */
  async resolve<Row>(
    manager: EntityManager,
    id: string,
    resolution: { resolution: string; providerTokens: bigint; reason: string; resolvedBy: string },
    returning: string,
  ): Promise<Row> {
    const result = await manager.query(
      `UPDATE disputes SET status = 'resolved', resolution = $2, provider_tokens = $3, reason = $4, resolved_by = $5, resolved_at = now()
        WHERE id = $1 RETURNING ${returning}`,
      [id, resolution.resolution, String(resolution.providerTokens), resolution.reason, resolution.resolvedBy],
    );
    // An UPDATE ... RETURNING comes back as [rows, count].
    const rows = (Array.isArray(result[0]) ? result[0] : result) as Row[];
    return rows[0];
  }
}
