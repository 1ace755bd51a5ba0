import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { DeliveryOutcome } from './delivery.entity.js';

/** A delivery's settled totals after a settlement batch: the money adds up, the tokens are the new point. */
export interface SettledDelivery {
  readonly id: string;
  /** Tokens settled so far (the point on the delivery's axis): replaces the column. */
  readonly paidTokens: bigint;
  /** Tokens resolved for the buyer in disputes by this batch, gone for good: added to the column. */
  readonly refundedTokens: bigint;
  /** Amounts moved by this batch: added to the columns. */
  readonly paid: bigint;
  readonly fee: bigint;
  readonly refunded: bigint;
  readonly penalty: bigint;
  /** Set when the batch closed the delivery. */
  readonly outcome: DeliveryOutcome | null;
}

/**
 * Every write to `deliveries` after its creation (the order path creates them with
 * `insertDeliveriesSql`, delivery-sql.ts). Other modules move a delivery through its states by
 * asking this repository, inside their own transaction (the caller's EntityManager), so that the
 * counters and the CHECK constraints of the table have one place that writes them.
 */
@Injectable()
export class DeliveriesRepository {
  /**
   * The statement that adds verified usage to the deliveries' `delivered_tokens`, from a relation
   * `source(delivery_id, tokens)` that the caller's statement defines (a CTE of the rows it just
   * inserted), so recording usage and adding it up is one atomic statement.
   */
  addDeliveredTokensSql(source: string): string {
    return `UPDATE deliveries d SET delivered_tokens = d.delivered_tokens + a.tokens
              FROM (SELECT delivery_id, sum(tokens) AS tokens FROM ${source} GROUP BY delivery_id) a
             WHERE d.id = a.delivery_id`;
  }

  /** Holds tokens out of settlement while a dispute is open (the caller has locked the delivery). */
  async holdDisputedTokens(manager: EntityManager, deliveryId: string, tokens: bigint | string): Promise<void> {
    await manager.query(`UPDATE deliveries SET disputed_tokens = disputed_tokens + $2 WHERE id = $1`, [deliveryId, String(tokens)]);
  }

  /** Releases a resolved dispute's tokens. */
  async releaseDisputedTokens(manager: EntityManager, deliveryId: string, tokens: bigint | string): Promise<void> {
    await manager.query(`UPDATE deliveries SET disputed_tokens = disputed_tokens - $2 WHERE id = $1`, [deliveryId, String(tokens)]);
  }

  /** Records a settlement batch's effect on its deliveries in one statement; an outcome closes a delivery. */
  async recordSettled(manager: EntityManager, deliveries: readonly SettledDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await manager.query(
      `UPDATE deliveries d
          SET paid_tokens = v.paid_tokens, refunded_tokens = d.refunded_tokens + v.refunded_tokens, paid_micros = d.paid_micros + v.paid, fee_paid_micros = d.fee_paid_micros + v.fee,
              refunded_micros = d.refunded_micros + v.refunded, penalty_micros = d.penalty_micros + v.penalty,
              outcome = coalesce(v.outcome, d.outcome),
              status = CASE WHEN v.outcome IS NULL THEN d.status ELSE 'closed' END,
              closed_at = CASE WHEN v.outcome IS NULL THEN d.closed_at ELSE now() END
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[])
           AS v(id, paid_tokens, paid, fee, refunded, penalty, outcome, refunded_tokens)
        WHERE d.id = v.id`,
      [
        deliveries.map((t) => t.id),
        deliveries.map((t) => String(t.paidTokens)),
        deliveries.map((t) => String(t.paid)),
        deliveries.map((t) => String(t.fee)),
        deliveries.map((t) => String(t.refunded)),
        deliveries.map((t) => String(t.penalty)),
        deliveries.map((t) => t.outcome),
        deliveries.map((t) => String(t.refundedTokens)),
      ],
    );
  }
}
