import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** What a dispute's refund moved, as the resolution reports it (micro-USD). */
export interface DisputeRefundMoney {
  readonly settlementId: string;
  readonly tokens: bigint;
  readonly refund: bigint;
  readonly penalty: bigint;
}

/** The money side of a resolution: settlement's `DisputeRefunds`. */
export interface DisputeMoneyHandler {
  /** Refunds `tokens` of the dispute to the buyer with the penalty, in the resolver's transaction; null when nothing moves. */
  refund(manager: EntityManager, disputeId: string, deliveryId: string, tokens: bigint): Promise<DisputeRefundMoney | null>;
  /** What earlier refunds of these disputes moved, by dispute id. */
  ofDisputes(manager: EntityManager, disputeIds: readonly string[]): Promise<Map<string, DisputeRefundMoney>>;
}

/**
 * Where a dispute's resolution asks for its money to move. Settlement owns that money and imports
 * metering (verified usage, request evidence), so it registers its handler here when it starts
 * rather than metering importing it (the pattern of the ProductCatalog and SuspensionEffects).
 */
@Injectable()
export class DisputeMoney implements DisputeMoneyHandler {
  private handler?: DisputeMoneyHandler;

  handledBy(handler: DisputeMoneyHandler): void {
    this.handler = handler;
  }

  refund(manager: EntityManager, disputeId: string, deliveryId: string, tokens: bigint): Promise<DisputeRefundMoney | null> {
    return this.required().refund(manager, disputeId, deliveryId, tokens);
  }

  ofDisputes(manager: EntityManager, disputeIds: readonly string[]): Promise<Map<string, DisputeRefundMoney>> {
    return this.required().ofDisputes(manager, disputeIds);
  }

  private required(): DisputeMoneyHandler {
    if (!this.handler) throw new Error('no handler for dispute money: the settlement module registers one when it starts');
    return this.handler;
  }
}
