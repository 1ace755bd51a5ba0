import { Injectable } from '@nestjs/common';
import { DisputesService } from '../../metering/disputes.service.js';
import type { BuyerCountView, DisputeView, NodeAuditView, NodeReportRecordView } from '../../metering/metering.dto.js';
import type { PageQuery } from '../../platform/http/pagination.js';
import { ParticipantsService } from '../../participants/participants.service.js';

export const DISPUTE_FILTERS = ['open', 'resolved', 'all'] as const;
export type DisputeFilter = (typeof DISPUTE_FILTERS)[number];

/** One request as each side counted it: the node's signed record, the buyer's report, the exchange's re-count. */
export interface RequestSideBySide {
  readonly requestId: string;
  readonly node: NodeReportRecordView;
  readonly buyer: BuyerCountView | null;
  readonly audit: NodeAuditView | null;
}

/**
 * The console's disputes pages, over metering's DisputesService (the same methods as the admin
 * routes): the list, and one dispute with its evidence lined up per request, with the names of
 * the provider and the buyer.
 */
@Injectable()
export class DisputesPageService {
  constructor(
    private readonly disputes: DisputesService,
    private readonly participants: ParticipantsService,
  ) {}

  async list(filter: DisputeFilter, page: PageQuery) {
    const found = await this.disputes.list({ ...page, status: filter === 'all' ? undefined : filter });
    const names = await this.participants.namesOf(found.items.flatMap((d) => [d.providerId, d.buyerId]));
    return { disputes: found.items.map((d) => withNames(d, names)), nextCursor: found.nextCursor };
  }

  async detail(id: string) {
    const dispute = await this.disputes.get(id);
    const names = await this.participants.namesOf([dispute.providerId, dispute.buyerId, ...(dispute.resolvedBy ? [dispute.resolvedBy] : [])]);
    const requests: RequestSideBySide[] = (dispute.nodeReport?.records ?? []).map((node) => ({
      requestId: node.requestId,
      node,
      buyer: dispute.buyerReport.find((b) => b.requestId === node.requestId) ?? null,
      audit: dispute.audits.find((a) => a.requestId === node.requestId) ?? null,
    }));
    return {
      dispute: withNames(dispute, names),
      resolvedByName: dispute.resolvedBy ? (names.get(dispute.resolvedBy) ?? dispute.resolvedBy) : null,
      requests,
    };
  }
}

function withNames<D extends DisputeView>(d: D, names: Map<string, string>) {
  return { ...d, providerName: names.get(d.providerId) ?? d.providerId, buyerName: names.get(d.buyerId) ?? d.buyerId };
}
