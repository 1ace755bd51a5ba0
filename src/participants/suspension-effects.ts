import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** Disables what a participant serves, in the suspension's transaction; answers the ids it disabled. */
export type InTransactionEffect = (manager: EntityManager, participantId: string) => Promise<string[]>;
/** Runs once the suspension is committed (its keys already refused); answers the ids it closed. */
export type AfterCommitEffect = (participantId: string) => Promise<string[]>;

/**
 * What suspending a participant does beyond its status: its nodes are disabled (nodes/) and its
 * open orders cancelled through the books' gateway (orders/). Those modules import participants,
 * so they register their effects here when they start rather than being imported (the pattern of
 * the ProductCatalog). Orders are cancelled after the commit: a book commits its own batches, and
 * with the status committed first no new order of the participant is admitted behind the cancel.
 */
@Injectable()
export class SuspensionEffects {
  private readonly nodeEffects: InTransactionEffect[] = [];
  private readonly orderEffects: AfterCommitEffect[] = [];

  disablesNodes(effect: InTransactionEffect): void {
    this.nodeEffects.push(effect);
  }

  cancelsOrders(effect: AfterCommitEffect): void {
    this.orderEffects.push(effect);
  }

  async disableNodes(manager: EntityManager, participantId: string): Promise<string[]> {
    const ids: string[] = [];
    for (const effect of this.nodeEffects) ids.push(...(await effect(manager, participantId)));
    return ids;
  }

  async cancelOrders(participantId: string): Promise<string[]> {
    const ids: string[] = [];
    for (const effect of this.orderEffects) ids.push(...(await effect(participantId)));
    return ids;
  }
}
