import { Injectable } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { LedgerInspector } from '../../ledger/ledger-inspector.js';
import type { PageQuery } from '../../platform/http/pagination.js';
import { ParticipantsService } from '../../participants/participants.service.js';

/**
 * The console's ledger pages, over the ledger's admin reads (the same methods as
 * GET /v1/admin/participants/:id/ledger and GET /v1/admin/ledger/transfers/:id), with the names of
 * the accounts' owners.
 */
@Injectable()
export class LedgerPageService {
  constructor(
    private readonly inspector: LedgerInspector,
    private readonly participants: ParticipantsService,
  ) {}

  /**
   * What the search box finds: a participant id opens its ledger; a name lists the participants
   * whose names contain it, and opens the ledger at once when exactly one does.
   */
  async search(text: string, page: PageQuery) {
    const q = text.trim();
    if (isUUID(q)) return { ledger: await this.ledgerOf(q, page), matches: [] };
    const matches = (await this.participants.list({ name: q, limit: 50 })).items;
    if (matches.length === 1) return { ledger: await this.ledgerOf(matches[0].id, page), matches };
    return { ledger: null, matches };
  }

  private async ledgerOf(participantId: string, page: PageQuery) {
    const ledger = await this.inspector.participantLedger(participantId, page);
    const name = (await this.participants.namesOf([participantId])).get(participantId) ?? participantId;
    return { ...ledger, name };
  }

  async transfer(id: string) {
    const transfer = await this.inspector.transferById(id);
    const names = await this.participants.namesOf([transfer.debit.participantId, transfer.credit.participantId].filter((p): p is string => p !== null));
    const owner = (p: string | null) => (p === null ? 'the exchange' : (names.get(p) ?? p));
    return { transfer, debitOwner: owner(transfer.debit.participantId), creditOwner: owner(transfer.credit.participantId) };
  }
}
