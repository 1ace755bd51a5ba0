import { DomainError, invalid, notFound, unprocessable } from '../../common/domain-error.js';
import type { AccountId, TransferRequest } from '../../ledger/core/index.js';
import { type InstrumentSpec, tradingState } from '../../markets/instrument-terms.js';
import type { BookEvent, Command, OrderBook } from '../../matching/index.js';
import { formatUsd } from '../../common/money.js';
import { BatchMoney, type FillRecord, type OrderAccounts, openPart } from './batch-money.js';
import { type AmendCommand, type BookCommand, clientOrderKey, type CommandResult, type PlaceCommand, type StoredAnswer } from './book-commands.js';
import { KeyedPlaces } from './keyed-places.js';
import { NO_CAPACITY, type ProviderCapacity } from './capacity.js';
import { type LevelChange, levelChanges } from './level-changes.js';
import type { LiveOrder } from './live-order.js';
import type { LiveOrders } from './live-orders.js';
import { NO_FILLS } from './order-money.js';
import { NOTHING_OPEN, type PositionKeeper, type ProductBookAccess, type ProductCommand } from './position-keeper.js';
import { rejectionToError } from './order-errors.js';
import type { ProductRules } from './product-rules.js';

/** A book as its writer keeps it: the engine, and the live orders with their money. Planning mutates it. */
export interface BookState {
  readonly symbol: string;
  readonly book: OrderBook;
  readonly orders: LiveOrders;
  /** What the product keeps across batches besides orders (forwards: positions), opaque here. */
  readonly product?: unknown;
}

/** Everything a batch needs from outside, read by the shell before planning. */
export interface BatchFacts {
  /** The batch's clock: every command of the batch happens at this instant. */
  readonly now: number;
  readonly terms: InstrumentSpec;
  readonly feesAccount: AccountId;
  /** Accounts of everyone the batch may touch: its callers and the owners of resting orders. */
  readonly accounts: ReadonlyMap<string, OrderAccounts>;
  /** What each caller's available account may spend, as read before the batch. */
  readonly spendable: ReadonlyMap<AccountId, bigint>;
  /** clientOrderIds already committed (`clientOrderKey`), with their order ids; answers committed under Idempotency-Keys (the same form). */
  readonly knownClientOrderIds: ReadonlyMap<string, bigint>;
  readonly storedAnswers?: ReadonlyMap<string, StoredAnswer>;
  /** Fresh order ids, ascending, at least one per place command. */
  readonly orderIds: readonly number[];
  /** Capacity of every provider adding sell quantity in the batch. */
  readonly capacity: ReadonlyMap<string, ProviderCapacity>;
  /** The model class's spot index on this book's grid, when the book has no reference price yet. */
  readonly indexPriceTicks?: number;
  /** What the product's shell read for this batch (forwards: roles, capacity, mark inputs), opaque here. */
  readonly product?: unknown;
}

/** What the shell commits, in one transaction, and then answers and publishes. */
export interface BatchPlan {
  /** Per command, in order: its result, or the error that refused it (nothing of it is in the plan). */
  readonly results: ReadonlyArray<CommandResult | DomainError>;
  readonly transfers: readonly TransferRequest[];
  /** Orders created or changed. */
  readonly orders: readonly LiveOrder[];
  readonly fills: readonly FillRecord[];
  /** Product effects committed with the batch by their owning modules (spot: a delivery per fill). */
  readonly deliveries: readonly FillRecord[];
  readonly previousSeq: number;
  readonly seq: number;
  readonly referencePriceTicks: number | undefined;
  /** L2 changes for market data, published with `seq` after the commit. */
  readonly levels: readonly LevelChange[];
  /** What the product's positions changed (forwards), for its statements in the same commit. */
  readonly product?: unknown;
}

type EngineCommand = Command extends infer C ? (C extends unknown ? Omit<C, 'seq' | 'timestamp'> : never) : never;

/**
 * Plans one group commit: runs the batch's commands through the engine and the product's rules,
 * in order, on the book in memory, and returns what must be committed. No I/O and no clock of its
 * own: the same book, facts and commands always give the same plan. A command refused by a rule
 * leaves no trace in the plan; an unexpected error (a bug) throws, and the shell rebuilds the book.
 */
export function planBatch(state: BookState, rules: ProductRules, facts: BatchFacts, commands: readonly BookCommand[]): BatchPlan {
  return new BatchPlanner(state, rules, facts).plan(commands);
}

class BatchPlanner {
  private readonly money: BatchMoney;
  private readonly keeper?: PositionKeeper;
  private readonly fills: FillRecord[] = [];
  private readonly batchClientIds = new Map<string, bigint>();
  private nextOrderId = 0;
  /** Open sell lots per provider, counted at the batch's first added sell, plus sells added since. */
  private openSells?: Map<string, number>;

  constructor(
    private readonly state: BookState,
    private readonly rules: ProductRules,
    private readonly facts: BatchFacts,
  ) {
    this.keeper = rules.keeper?.(state.product, facts.product, facts.terms);
    this.money = new BatchMoney(rules.money(facts.terms), rules, facts.feesAccount, facts.accounts, facts.spendable, this.keeper);
  }

  plan(commands: readonly BookCommand[]): BatchPlan {
    const { book } = this.state;
    const previousSeq = book.lastSequence;
    const before = { bids: book.depth('buy'), asks: book.depth('sell') };
    const keyed = new KeyedPlaces(this.facts.storedAnswers);
    const results = commands.map((command, index) => {
      try {
        return command.kind === 'place' ? keyed.place(command, index, () => this.place(command)) : this.execute(command);
      } catch (error) {
        if (error instanceof DomainError) return error;
        throw error;
      }
    });
    const levels = book.lastSequence === previousSeq ? [] : [...levelChanges('buy', before.bids, book.depth('buy')), ...levelChanges('sell', before.asks, book.depth('sell'))];
    return {
      results,
      transfers: this.money.transfers,
      orders: [...this.money.changed.values()],
      fills: this.fills,
      deliveries: this.rules.fillsAreDeliveries ? this.fills : [],
      previousSeq,
      seq: book.lastSequence,
      referencePriceTicks: book.referencePriceTicks,
      levels,
      ...(this.keeper ? { product: this.keeper.changes() } : {}),
    };
  }

  private execute(command: BookCommand): CommandResult {
    switch (command.kind) {
      case 'place':
        return this.place(command);
      case 'amend':
        return this.amend(command);
      case 'cancel': {
        const order = this.openOrderOf(command.participantId, command.orderId);
        this.run({ type: 'cancel', orderId: order.id, owner: order.participantId });
        return { order, closed: [], fills: [] };
      }
      case 'cancel_all':
      case 'expire': {
        const events: BookEvent[] = [];
        this.run(command.kind === 'cancel_all' ? { type: 'cancel_all', owner: command.participantId } : { type: 'expire' }, {}, events);
        const closed = events.flatMap((e) => (e.type === 'cancelled' || e.type === 'expired' ? [this.state.orders.get(e.orderId)!] : []));
        return { closed, fills: [] };
      }
      case 'product':
        return this.productCommand(command);
    }
  }

  /** A command of the product's own (forwards: the daily mark, expiry), run by its keeper on this book. */
  private productCommand(command: ProductCommand): CommandResult {
    if (!this.keeper?.execute) throw invalid('VALIDATION_FAILED', `${this.state.symbol} does not take ${command.name} commands`);
    const closed: LiveOrder[] = [];
    const { book, orders } = this.state;
    const access: ProductBookAccess = {
      now: this.facts.now,
      orders,
      bestBid: () => this.bestBid(),
      bestAsk: () => book.depth('sell', 1)[0]?.priceTicks,
      referencePriceTicks: book.referencePriceTicks,
      cancel: (orderId, reason) => {
        const order = orders.get(orderId)!;
        this.run({ type: 'cancel', orderId, owner: order.participantId });
        order.closeReason = reason;
        closed.push(order);
      },
      transfer: (transfer) => this.money.push(transfer),
      reserve: (participantId, amount) => this.money.reserve(participantId, amount),
      spendable: (participantId) => this.money.spendableOf(participantId),
      accountsOf: (participantId) => this.money.accountsOf(participantId),
    };
    const { value } = this.keeper.execute(command, access);
    return { closed, fills: [], product: value };
  }

  private place(command: PlaceCommand): CommandResult {
    const { book, orders, symbol } = this.state;
    const orderId = this.facts.orderIds[this.nextOrderId++];
    if (orderId === undefined) throw new Error('the batch has fewer order ids than place commands');
    const clientKey = command.clientOrderId === undefined ? undefined : clientOrderKey(command.participantId, command.clientOrderId);
    const first = clientKey === undefined ? undefined : (this.facts.knownClientOrderIds.get(clientKey) ?? this.batchClientIds.get(clientKey));
    if (first !== undefined) return { closed: [], fills: [], duplicateOf: first };

    this.refuseUnlessTrading();
    if (command.expiresAt !== undefined && command.expiresAt <= this.facts.now) {
      throw invalid('VALIDATION_FAILED', 'expiresAt must be in the future', { fields: ['expiresAt'] });
    }
    // A market order is held at its collar limit: the worst price it could fill at.
    let limit = command.type === 'limit' ? command.priceTicks! : book.collarLimit(command.side);
    const index = this.facts.indexPriceTicks;
    if (limit === undefined && index !== undefined && index > 0) {
      // A book that has never traded takes the spot index as its reference (kept from then on).
      this.run({ type: 'set_reference_price', priceTicks: index });
      limit = book.collarLimit(command.side);
    }
    if (limit === undefined) throw unprocessable('NO_REFERENCE_PRICE', 'a market order needs a last trade or index price to set its price collar');
    this.refuseAdded(command.participantId, command.side, command.lots);

    const order: LiveOrder = {
      id: orderId,
      participantId: command.participantId,
      instrument: symbol,
      clientOrderId: command.clientOrderId ?? null,
      side: command.side,
      type: command.type,
      timeInForce: command.timeInForce,
      postOnly: command.postOnly,
      stp: command.stp,
      expiresAt: command.expiresAt ?? null,
      priceTicks: limit,
      quantity: command.lots,
      filled: 0,
      status: 'open',
      closeReason: null,
      hold: 0n,
      fees: NO_FILLS,
      feesPaid: 0n,
      acceptedSeq: 0,
      prioritySeq: 0,
      createdAt: new Date(this.facts.now),
    };
    const fills = this.money.taking(order, this.bestBid(), () => `taken:${book.lastSequence}`, () => {
      const needed = this.money.openHold(order);
      if (!this.money.reserve(command.participantId, needed)) {
        const what = this.keeper ? 'the order\'s fee' : this.rules.holdPot(command.side) === 'held' ? 'the order and its fee' : 'the performance bond';
        throw unprocessable('INSUFFICIENT_FUNDS', `available cash does not cover ${what}`);
      }
      const margin = this.keeper?.marginToAdd(command.participantId, command.side, NOTHING_OPEN, { lots: command.lots, priceTicks: limit }) ?? 0n;
      if (!this.money.reserveMargin(command.participantId, margin)) {
        this.money.unreserve(command.participantId, needed);
        throw unprocessable('INSUFFICIENT_MARGIN', `available cash does not cover the initial margin this order needs (${formatUsd(margin)} USD)`);
      }
      return this.run(
        {
          type: 'place',
          orderId,
          owner: command.participantId,
          side: command.side,
          orderType: command.type,
          ...(command.type === 'limit' ? { priceTicks: command.priceTicks } : {}),
          quantity: command.lots,
          timeInForce: command.timeInForce,
          ...(command.expiresAt !== undefined ? { expiresAt: command.expiresAt } : {}),
          postOnly: command.postOnly,
          stp: command.stp,
        },
        {
          // Accepted: the order goes live and takes its hold in full before its fills use it.
          accepted: (seq) => {
            order.acceptedSeq = order.prioritySeq = seq;
            orders.set(orderId, order);
            this.money.opened(order, 'hold', needed);
            if (clientKey !== undefined) this.batchClientIds.set(clientKey, BigInt(orderId));
            if (order.side === 'sell') this.addOpenSells(order.participantId, order.quantity);
          },
          rejected: () => this.money.unreserve(command.participantId, needed),
        },
      );
    });
    return { order, closed: [], fills };
  }

  private amend(command: AmendCommand): CommandResult {
    const order = this.openOrderOf(command.participantId, command.orderId);
    const quantity = command.lots ?? order.quantity;
    // While halted or closed, an order may only shrink: a new price or more quantity could trade.
    if (command.priceTicks !== undefined || quantity >= order.quantity) this.refuseUnlessTrading(': orders may only be reduced or cancelled');
    const added = quantity - order.quantity;
    if (added > 0) this.refuseAdded(order.participantId, order.side, added);
    // Reserve what the amended order could need beyond its hold before the engine sees it.
    const fills = this.money.taking(order, this.bestBid(), () => `taken:${this.state.book.lastSequence}`, () => {
      const amended = { ...order, priceTicks: command.priceTicks ?? order.priceTicks, quantity };
      const needed = this.money.amendedHold(order, amended);
      const more = needed > order.hold ? needed - order.hold : 0n;
      if (!this.money.reserve(order.participantId, more)) throw unprocessable('INSUFFICIENT_FUNDS', 'available cash does not cover the amended order');
      const margin = this.keeper?.marginToAdd(order.participantId, order.side, openPart(order), openPart(amended)) ?? 0n;
      if (!this.money.reserveMargin(order.participantId, margin)) {
        this.money.unreserve(order.participantId, more);
        throw unprocessable('INSUFFICIENT_MARGIN', `available cash does not cover the initial margin the amended order needs (${formatUsd(margin)} USD)`);
      }
      return this.run(
        {
          type: 'amend',
          orderId: order.id,
          owner: order.participantId,
          ...(command.priceTicks !== undefined ? { priceTicks: command.priceTicks } : {}),
          ...(command.lots !== undefined ? { quantity: command.lots } : {}),
        },
        { rejected: () => this.money.unreserve(order.participantId, more) },
      );
    });
    if (order.side === 'sell' && added > 0) this.addOpenSells(order.participantId, added);
    return { order, closed: [], fills };
  }

  private bestBid(): number | undefined {
    return this.state.book.depth('buy', 1)[0]?.priceTicks;
  }

  /** Refuses what could trade while the instrument is halted, or a forward past its last trade. */
  private refuseUnlessTrading(detail = ''): void {
    const state = tradingState(this.facts.terms, new Date(this.facts.now));
    if (state === 'halted') throw unprocessable('INSTRUMENT_HALTED', `${this.state.symbol} is halted${detail}`);
    if (state === 'closed') throw unprocessable('INSTRUMENT_CLOSED', `${this.state.symbol} is closed for trading${detail}`);
  }

  private refuseAdded(participantId: string, side: 'buy' | 'sell', lots: number): void {
    const refusal = this.keeper?.refuseAdded(participantId, side, lots) ?? this.rules.refuseAdded(
      { participantId, side, lots },
      {
        terms: this.facts.terms,
        capacity: (provider) => this.facts.capacity.get(provider) ?? NO_CAPACITY,
        openSellLots: (provider) => this.openSellLots().get(provider) ?? 0,
      },
    );
    if (refusal) throw refusal;
  }

  /**
   * Open sells are counted once per batch; sells added in the batch are added as they come, and
   * fills only move lots from open to sold, so the sum stays an upper bound (cancels only lower it).
   */
  private openSellLots(): Map<string, number> {
    if (!this.openSells) {
      // The engine's resting sells are the open sells, walked without decoding a live order.
      const open = (this.openSells = new Map<string, number>());
      this.state.book.forEachOrder('sell', (o) => open.set(o.owner, (open.get(o.owner) ?? 0) + o.remaining));
    }
    return this.openSells;
  }

  private addOpenSells(providerId: string, lots: number): void {
    if (this.openSells) this.openSells.set(providerId, (this.openSells.get(providerId) ?? 0) + lots);
  }

  private openOrderOf(participantId: string, orderId: number): LiveOrder {
    const order = this.state.orders.get(orderId);
    if (!order || order.participantId !== participantId || order.status !== 'open') throw notFound('ORDER_NOT_FOUND', 'no open order with that id');
    return order;
  }

  /**
   * Runs one command through the engine (next sequence, the batch's clock) and applies its events
   * to the live orders and the batch's money. A rejection becomes the client's error. Returns the
   * fills the command made; `events` receives a copy of its events (the engine reuses its own).
   */
  private run(command: EngineCommand, hooks: { accepted?: (seq: number) => void; rejected?: () => void } = {}, events: BookEvent[] = []): FillRecord[] {
    const { book, orders, symbol } = this.state;
    const seq = book.lastSequence + 1;
    const now = this.facts.now;
    events.push(...book.execute({ ...command, seq, timestamp: now } as Command).map((e) => ({ ...e })));
    const rejection = events.find((e) => e.type === 'rejected');
    if (rejection?.type === 'rejected') {
      hooks.rejected?.();
      this.money.settleMargins([], `${symbol}:${seq}`);
      throw rejectionToError(rejection.code);
    }
    const fills: FillRecord[] = [];
    const touched = new Set<string>();
    for (const event of events) {
      switch (event.type) {
        case 'accepted':
          hooks.accepted?.(seq);
          touched.add(orders.get(event.orderId)!.participantId);
          break;
        case 'trade': {
          const id = `${symbol}:${seq}:${fills.length}`;
          const fill = this.money.trade(id, seq, orders.get(event.makerOrderId)!, orders.get(event.takerOrderId)!, event.priceTicks, event.quantity, new Date(now));
          fills.push(fill);
          this.fills.push(fill);
          touched.add(fill.buyerId).add(fill.sellerId);
          break;
        }
        case 'cancelled':
        case 'expired': {
          const order = orders.get(event.orderId)!;
          touched.add(order.participantId);
          this.money.rehold(order, `close:${seq}`, () => {
            order.status = event.type;
            order.closeReason = event.type === 'expired' ? 'expired' : event.reason;
          });
          break;
        }
        case 'amended': {
          const order = orders.get(event.orderId)!;
          touched.add(order.participantId);
          this.money.rehold(order, `amend:${seq}`, () => {
            order.priceTicks = event.priceTicks;
            order.quantity = event.quantity;
            if (!event.priorityKept) order.prioritySeq = seq;
          });
          break;
        }
      }
    }
    this.money.settleMargins(touched, `${symbol}:${seq}`);
    return fills;
  }
}
