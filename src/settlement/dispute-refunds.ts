import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { DisputeMoney, type DisputeMoneyHandler, type DisputeRefundMoney } from '../metering/dispute-money.js';
import { batchTotals, disputeRefundStep } from './core/settlement-steps.js';
import { DELIVERY_STATE, type DeliveryState, insertSettlements, positionOf } from './settlement-sql.js';
import { stepTransfers } from './step-transfers.js';

/**
 * The money of a dispute resolved for the buyer (market-rules §7, docs/settlement.md): its tokens
 * leave the delivery for good, their escrow goes back to the buyer and the breach penalty on it
 * comes out of the delivery's bond. Settlement's step (core `disputeRefundStep`), run in the
 * resolver's transaction so it commits with the resolution and its audit event. It needs only the
 * ledger and the deliveries, so metering can ask for it without depending on the settlement worker.
 */
@Injectable()
export class DisputeRefunds implements DisputeMoneyHandler {
  constructor(
    private readonly ledger: LedgerService,
    private readonly deliveries: DeliveriesRepository,
    money: DisputeMoney,
  ) {
    money.handledBy(this);
  }

  /**
   * Refunds `tokens` of the dispute `disputeId`, already released from the delivery's disputed
   * tokens. Transfer ids and the record's key derive from the dispute, which is resolved once.
   * Returns null when the delivery is closed: its close settled every token it had left.
   */
  async refund(manager: EntityManager, disputeId: string, deliveryId: string, tokens: bigint): Promise<DisputeRefundMoney | null> {
    // Lock, then read: the read's snapshot comes after any settlement batch that held the delivery.
    await manager.query(`SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, [deliveryId]);
    const [d]: DeliveryState[] = await manager.query(`SELECT ${DELIVERY_STATE} FROM deliveries d WHERE d.id = $1`, [deliveryId]);
    if (!d) throw new Error(`delivery ${deliveryId} of dispute ${disputeId} is missing`);
    if (d.status !== 'open' || tokens === 0n) return null;
    const step = disputeRefundStep(positionOf(d), disputeId, tokens);
    const fees = await this.ledger.feeAccount(d.id);
    const transfers = await stepTransfers(this.ledger, manager, step, { buyerId: d.buyer_id, providerId: d.provider_id, fees });
    await this.ledger.transferOrThrow(manager, transfers);
    const ids = await insertSettlements(manager, [
      { key: step.key, kind: step.kind, deliveryId: d.id, buyerId: d.buyer_id, providerId: d.provider_id, tokens: step.tokens, amounts: step.amounts, transferIds: transfers.map((t) => t.id) },
    ]);
    await this.deliveries.recordSettled(manager, batchTotals([step]));
    return { settlementId: ids.get(step.key)!, tokens, refund: step.effect.refunded, penalty: step.effect.penalty };
  }
  /** The refunds of these disputes that moved money, by dispute id (settlement's records of kind `dispute`). */
  async ofDisputes(manager: EntityManager, disputeIds: readonly string[]): Promise<Map<string, DisputeRefundMoney>> {
    if (disputeIds.length === 0) return new Map();
    const rows: Array<{ id: string; key: string; tokens: string; amounts: Record<string, string> }> = await manager.query(
      `SELECT id::text, key, tokens::text, amounts FROM settlements WHERE kind = 'dispute' AND key = ANY($1::text[])`,
      [disputeIds.map((id) => `dispute:${id}`)],
    );
    return new Map(
      rows.map((r) => [
        r.key.slice('dispute:'.length),
        { settlementId: r.id, tokens: BigInt(r.tokens), refund: BigInt(r.amounts.buyerRefund ?? '0'), penalty: BigInt(r.amounts.penalty ?? '0') },
      ]),
    );
  }
}
