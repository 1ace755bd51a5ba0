import { Injectable } from '@nestjs/common';
import { formatBalances, LedgerService } from '../../ledger/ledger.service.js';
import { NodesService } from '../../nodes/nodes.service.js';
import type { OrderView } from '../../orders/orders.dto.js';
import { OrdersService } from '../../orders/orders.service.js';
import type { ApiKeyView, ParticipantView } from '../../participants/participants.dto.js';
import { ParticipantsService } from '../../participants/participants.service.js';
import type { Principal } from '../../platform/http/auth.js';
import type { NodeView } from '../../nodes/nodes.dto.js';

export interface ParticipantPage {
  readonly participant: ParticipantView;
  /** As GET /v1/me formats them. */
  readonly balances: ReturnType<typeof formatBalances>;
  readonly openOrders: OrderView[];
  readonly openOrdersNext: string | null;
  readonly recentOrders: OrderView[];
  readonly apiKeys: ApiKeyView[];
  readonly apiKeysNext: string | null;
  readonly nodes: NodeView[];
}

const OPEN_ORDERS = 100;
const RECENT_ORDERS = 20;
const KEYS = 100;
const NODES = 100;

/** A participant's page: read from the services the API's own routes use, so it shows what they show. */
@Injectable()
export class ParticipantPageService {
  constructor(
    private readonly participants: ParticipantsService,
    private readonly ledger: LedgerService,
    private readonly orders: OrdersService,
    private readonly nodes: NodesService,
  ) {}

  async page(admin: Principal, id: string, cursors: { orders?: string; keys?: string } = {}): Promise<ParticipantPage> {
    const participant = await this.participants.get(admin, id); // 404 first
    const [balances, open, recent, keys, nodes] = await Promise.all([
      this.ledger.balancesOf(id),
      this.orders.listOf(id, { status: 'open', limit: OPEN_ORDERS, cursor: cursors.orders }),
      this.orders.listOf(id, { limit: RECENT_ORDERS }),
      this.participants.listKeys(admin, id, { limit: KEYS, cursor: cursors.keys }),
      this.nodes.listOf(id, { limit: NODES }),
    ]);
    return {
      participant,
      balances: formatBalances(balances),
      openOrders: open.items,
      openOrdersNext: open.nextCursor,
      recentOrders: recent.items.filter((o) => o.status !== 'open'),
      apiKeys: keys.items,
      apiKeysNext: keys.nextCursor,
      nodes: nodes.items,
    };
  }
}
