import { type DomainError, unprocessable } from '../../common/domain-error.js';
import type { ForwardTerms } from '../../markets/instrument-terms.js';
import { notionalMicros } from '../../markets/price.js';
import type { Side } from '../../matching/index.js';
import type { LiveOrder } from '../../orders/core/live-order.js';
import type { OpenPart, PositionKeeper, ProductBookAccess, ProductCommand, ProductCommandResult } from '../../orders/core/position-keeper.js';
import { type ForwardBook, type ForwardFacts, type ForwardChanges, type OpenOrders, NO_OPEN_ORDERS } from './forward-book.js';
import { initialRequirement, marginMove } from './margin.js';
import { applyTrade, flatPosition, type Position } from './positions.js';
import { runForwardCommand } from './forward-commands.js';
import { sellCapacityRefusal } from './sell-capacity.js';

/**
 * The forward product's keeper of one contract's book for one batch (market-rules §6): net
 * positions per participant, their open orders' notional per side, and the margin that backs
 * both, kept on the participant's margin account. It refuses what only providers may do (grow a
 * short) or only buyers (grow a long), anything that grows a position under a margin call, and
 * shorts the provider's nodes cannot deliver; and says after each command what margin each
 * participant draws or releases. Product commands (top-ups, the daily mark, expiry) run here too.
 */
export class ForwardKeeper implements PositionKeeper {
  private readonly changed = new Set<string>();
  /** Top-ups made in this batch, by transfer id (a key repeated within a batch moves nothing twice). */
  readonly topUpsInBatch = new Map<string, bigint>();
  /** A mark or expiry ran in this batch. */
  marked = false;
  /** Marks, margin events and an expiry this batch made, for the commit (positions are read at the end). */
  readonly recorded: ForwardChanges = { positions: [], marks: [], calls: [], audits: [], expiry: undefined };

  constructor(
    readonly book: ForwardBook,
    readonly facts: ForwardFacts,
    readonly terms: ForwardTerms,
  ) {}

  position(participantId: string): Position {
    return this.book.positions.get(participantId) ?? flatPosition(participantId);
  }

  open(participantId: string): OpenOrders {
    return this.book.open.get(participantId) ?? NO_OPEN_ORDERS;
  }

  setPosition(position: Position): void {
    this.book.positions.set(position.participantId, position);
    this.changed.add(position.participantId);
  }

  refuseAdded(participantId: string, side: Side, lots: number): DomainError | undefined {
    const position = this.position(participantId);
    const open = this.open(participantId);
    // Lots beyond what would close the opposite position (less what open orders already close) grow it.
    const closable = side === 'buy' ? Math.max(0, -position.lots - open.buyLots) : Math.max(0, position.lots - open.sellLots);
    const growth = lots - closable;
    if (growth <= 0) return undefined;
    const role = this.facts.roles.get(participantId);
    if (side === 'sell' && !role?.provider) {
      return unprocessable('REDUCE_ONLY', `only providers may be short: this sell would go ${growth} lots beyond closing your long of ${this.terms.symbol}`);
    }
    if (side === 'buy' && !role?.buyer) {
      return unprocessable('REDUCE_ONLY', `providers may buy ${this.terms.symbol} only to reduce a short: this buy would go ${growth} lots beyond it`);
    }
    if (position.inCall) {
      return unprocessable('MARGIN_CALL', `you are under a margin call on ${this.terms.symbol}: orders that grow the position are refused until equity is back at initial margin`);
    }
    if (side === 'sell') {
      const shortLots = Math.max(0, -position.lots) + open.sellLots + growth;
      return sellCapacityRefusal(this.terms, this.facts.capacity.get(participantId), shortLots);
    }
    return undefined;
  }

  marginToAdd(participantId: string, side: Side, from: OpenPart, to: OpenPart): bigint {
    const before = this.requirement(participantId);
    const delta = this.notional(to) - this.notional(from);
    const open = this.open(participantId);
    const after = initialRequirement(this.terms, {
      position: this.position(participantId),
      openBuys: open.buys + (side === 'buy' ? delta : 0n),
      openSells: open.sells + (side === 'sell' ? delta : 0n),
    });
    return after > before ? after - before : 0n;
  }

  openChanged(order: LiveOrder, before: OpenPart): void {
    const now = order.status === 'open' ? { lots: order.quantity - order.filled, priceTicks: order.priceTicks } : { lots: 0, priceTicks: order.priceTicks };
    const open = this.open(order.participantId);
    const notional = this.notional(now) - this.notional(before);
    const lots = now.lots - before.lots;
    this.book.open.set(
      order.participantId,
      order.side === 'buy' ? { ...open, buys: open.buys + notional, buyLots: open.buyLots + lots } : { ...open, sells: open.sells + notional, sellLots: open.sellLots + lots },
    );
  }

  traded(buyer: LiveOrder, seller: LiveOrder, priceTicks: number, lots: number, seq: number): void {
    for (const [order, side] of [[buyer, 'buy'], [seller, 'sell']] as const) {
      const trade = { side, lots, priceTicks, marginPriceTicks: order.priceTicks, seq };
      this.setPosition(applyTrade(this.position(order.participantId), trade, this.terms));
    }
  }

  rebalance(participantId: string): bigint {
    const before = this.requirement(participantId);
    const after = this.currentRequirement(participantId);
    const position = this.position(participantId);
    const move = marginMove(before, after, position.margin);
    this.book.requirements.set(participantId, after);
    if (move === 0n && !position.inCall) return 0n;
    const margin = position.margin + move;
    // Reducing the position (or cancelling) can cure a call: equity back at initial margin.
    const cured = position.inCall && margin >= after;
    this.setPosition({ ...position, margin, inCall: position.inCall && !cured });
    if (cured) this.recorded.calls.push({ participantId, event: 'cured', equity: margin, requirement: after });
    return move;
  }

  execute(command: ProductCommand, access: ProductBookAccess): ProductCommandResult {
    return runForwardCommand(this, command, access);
  }

  changes(): ForwardChanges {
    return { ...this.recorded, positions: [...this.changed].map((id) => this.position(id)) };
  }

  /** The participant's initial requirement as of its last rebalance (none yet: nothing open, nothing held). */
  requirement(participantId: string): bigint {
    return this.book.requirements.get(participantId) ?? 0n;
  }

  currentRequirement(participantId: string): bigint {
    const open = this.open(participantId);
    return initialRequirement(this.terms, { position: this.position(participantId), openBuys: open.buys, openSells: open.sells });
  }

  private notional(part: OpenPart): bigint {
    return notionalMicros(part.priceTicks, part.lots, this.terms);
  }
}
