import type { EntityManager } from 'typeorm';
import type { AccountId, TransferRequest } from '../ledger/core/index.js';
import type { LedgerService } from '../ledger/ledger.service.js';
import { routeTransfers, type Step } from './core/settlement-steps.js';

/**
 * A step's transfers, with the parties' ledger accounts filled in by what each is
 * (core/settlement-steps.ts); zero ones dropped. Fees go to the fee account shard `fees`, which
 * the caller picks once for its whole transaction (LedgerService.feeAccount).
 */
export async function stepTransfers(
  ledger: LedgerService,
  manager: EntityManager,
  step: Step,
  parties: { readonly buyerId: string; readonly providerId: string; readonly fees: AccountId },
): Promise<TransferRequest[]> {
  const buyer = await ledger.accountsOf(parties.buyerId, manager);
  const provider = await ledger.accountsOf(parties.providerId, manager);
  return routeTransfers(step.transfers, { buyer, provider, fees: parties.fees });
}
