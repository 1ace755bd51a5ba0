import type { AccountId, TransferRequest } from '../../ledger/core/index.js';
import { type LiveOrder, openLots } from './live-order.js';
import { fill as fillMoney, type InstrumentMoney } from './order-money.js';
import { type OpenPart, type PositionKeeper } from './position-keeper.js';
import type { ProductRules } from './product-rules.js';

/** A participant's ledger accounts that orders move money between (ids never change once opened). */
export interface OrderAccounts {
  readonly available: AccountId;
  readonly held: AccountId;
  readonly escrow: AccountId;
  readonly bond: AccountId;
  readonly margin: AccountId;
}

/** One trade as the writer records it in `fills`. */
export interface FillRecord {
  readonly id: string;
  readonly seq: number;
  readonly makerOrderId: number;
  readonly takerOrderId: number;
  readonly buyerId: string;
  readonly sellerId: string;
  readonly takerSide: 'buy' | 'sell';
  readonly priceTicks: number;
  readonly lots: number;
  readonly notional: bigint;
  readonly buyerFee: bigint;
  readonly sellerFee: bigint;
  /** The seller's bond that now backs this fill's delivery (spot), moved off the sell order; 0 on forwards. */
  readonly bond: bigint;
  readonly createdAt: Date;
}

/**
 * The money side of one group commit, in memory: the participants' accounts, what each may still
 * spend in this batch (read before it, re-checked by the ledger under lock at commit), and the
 * ledger transfers the batch's orders and fills describe, in the order they happened. Transfer
 * ids derive from order ids, fill ids and book sequences, so every movement is named once.
 */
export class BatchMoney {
  readonly transfers: TransferRequest[] = [];
  /** Orders created or changed in this batch. */
  readonly changed = new Map<number, LiveOrder>();

  /** What each account may still spend in this batch; starts as the balances read before it. */
  private readonly spendable: Map<AccountId, bigint>;
  /** Margin reserved for the command being run, per participant, not yet drawn. */
  private readonly marginReserved = new Map<string, bigint>();
  /** A sell taking liquidity while its fee is charged at the trade: the bid its fee hold is counted at. */
  private taker?: { readonly orderId: number; readonly ceilingTicks: number };

  constructor(
    private readonly money: InstrumentMoney,
    private readonly rules: ProductRules,
    private readonly feesAccount: AccountId,
    private readonly accounts: ReadonlyMap<string, OrderAccounts>,
    spendable: ReadonlyMap<AccountId, bigint>,
    /** The product's positions (forwards), told of every change; none on spot. */
    readonly keeper?: PositionKeeper,
  ) {
    this.spendable = new Map(spendable);
  }

  accountsOf(participantId: string): OrderAccounts {
    const accounts = this.accounts.get(participantId);
    if (!accounts) throw new Error(`accounts of ${participantId} were not loaded for this batch`);
    return accounts;
  }

  /** What the participant's available cash can still spend in this batch. */
  spendableOf(participantId: string): bigint {
    return this.spendable.get(this.accountsOf(participantId).available) ?? 0n;
  }

  /** Sets aside `amount` of the participant's available cash for this batch; false if it is not there. */
  reserve(participantId: string, amount: bigint): boolean {
    const account = this.accountsOf(participantId).available;
    const left = this.spendable.get(account) ?? 0n;
    if (left < amount) return false;
    this.spendable.set(account, left - amount);
    return true;
  }

  unreserve(participantId: string, amount: bigint): void {
    const account = this.accountsOf(participantId).available;
    this.spendable.set(account, (this.spendable.get(account) ?? 0n) + amount);
  }

  /** Sets aside margin a command may draw (see PositionKeeper.marginToAdd); false if the cash is not there. */
  reserveMargin(participantId: string, amount: bigint): boolean {
    if (amount === 0n) return true;
    if (!this.reserve(participantId, amount)) return false;
    this.marginReserved.set(participantId, (this.marginReserved.get(participantId) ?? 0n) + amount);
    return true;
  }

  /**
   * After a command: moves each participant's margin to what its positions and orders now require
   * (drawn from what was reserved for it, released to available), and returns what was reserved
   * but not drawn. `tag` names the command (the book's sequence) in the transfers' ids.
   */
  settleMargins(participantIds: Iterable<string>, tag: string): void {
    const keeper = this.keeper;
    if (!keeper) return;
    for (const participantId of new Set([...participantIds, ...this.marginReserved.keys()])) {
      const move = keeper.rebalance(participantId);
      const accounts = this.accountsOf(participantId);
      const reserved = this.marginReserved.get(participantId) ?? 0n;
      if (move > reserved && !this.reserve(participantId, move - reserved)) {
        throw new Error(`margin of ${participantId} rose by more than was reserved for it`);
      }
      if (move > 0n) this.move(`margin:${tag}:${participantId}`, accounts.available, accounts.margin, move, 'margin-hold', tag);
      if (move < 0n) this.move(`margin:${tag}:${participantId}`, accounts.margin, accounts.available, -move, 'margin-release', tag);
      const unused = (move > 0n ? (reserved > move ? reserved - move : 0n) : reserved) + (move < 0n ? -move : 0n);
      if (unused > 0n) this.unreserve(participantId, unused);
    }
    this.marginReserved.clear();
  }

  /** Adds a transfer the product decided (its own commands: marks, expiry, top-ups). */
  push(transfer: TransferRequest): void {
    this.transfers.push(transfer);
  }

  /**
   * What an open order must hold for its open lots at its limit (the product's rule; spot: a buy's
   * open notional plus the most fee it could still pay, a sell's bond); nothing once closed.
   */
  openHold(order: LiveOrder): bigint {
    const taker = this.taker;
    if (taker?.orderId === order.id && taker.ceilingTicks > order.priceTicks) {
      return this.rules.openHold(this.money, { ...order, priceTicks: taker.ceilingTicks });
    }
    return this.rules.openHold(this.money, order);
  }

  /**
   * Runs `take` (a place or an amend of `order`, its hold reserved and its fills made) with the
   * order's hold counted at `bestBid` when it is a sell that pays its fee at the trade: a taker sell
   * fills at the bids' prices, at or above its limit, so a fee held at its limit could fall short.
   * No fill of this command can be above today's best bid. Afterwards the hold of a sell still open
   * goes back to its limit; `tag` names that move.
   */
  taking<T>(order: LiveOrder, bestBid: number | undefined, tag: () => string, take: () => T): T {
    if (order.side !== 'sell' || !this.rules.sellerFeeAtTrade || bestBid === undefined) return take();
    this.taker = { orderId: order.id, ceilingTicks: bestBid };
    let taken = false;
    try {
      const result = take();
      taken = true;
      return result;
    } finally {
      const kept = order.hold - this.openHold(order);
      this.taker = undefined;
      if (taken && order.status === 'open') this.adjustHold(order, tag(), kept + this.openHold(order));
    }
  }

  /**
   * What an amend must hold: the hold it keeps for lots that already filled (a spot sell's bond
   * that stayed on the order) plus the open hold of the amended order.
   */
  amendedHold(order: LiveOrder, amended: LiveOrder): bigint {
    return order.hold - this.openHold(order) + this.openHold(amended);
  }

  /**
   * Applies `change` (an amend, or the order leaving the book) and moves the order's hold to what
   * it must be after it. A hold has two parts: what it keeps for lots that already filled (fixed
   * when they filled, whatever the order's limit becomes later) and the open hold at its current
   * limit; only the open part follows the change.
   */
  rehold(order: LiveOrder, tag: string, change: () => void): void {
    const kept = order.hold - this.openHold(order);
    const before = openPart(order);
    change();
    this.keeper?.openChanged(order, before);
    this.adjustHold(order, tag, kept + this.openHold(order));
  }

  /** A new order went live with its hold: the product's positions learn of its open part. */
  opened(order: LiveOrder, tag: string, hold: bigint): void {
    this.keeper?.openChanged(order, { lots: 0, priceTicks: order.priceTicks });
    this.adjustHold(order, tag, hold);
  }

  /**
   * Moves an order's hold (buy, on `held`) or bond (sell, on `bond`) to what it must be now: up
   * from available (reserved by the caller), down back to available (spendable again in this batch).
   */
  adjustHold(order: LiveOrder, tag: string, required: bigint): void {
    const accounts = this.accountsOf(order.participantId);
    const potKind = this.rules.holdPot(order.side);
    const pot = accounts[potKind];
    const code = potKind === 'held' ? 'order-hold' : 'order-bond';
    if (required > order.hold) {
      this.move(`order:${order.id}:${tag}`, accounts.available, pot, required - order.hold, code, String(order.id));
    } else if (required < order.hold) {
      this.move(`order:${order.id}:${tag}`, pot, accounts.available, order.hold - required, `${code}-release`, String(order.id));
      this.unreserve(order.participantId, order.hold - required);
    }
    order.hold = required;
    this.changed.set(order.id, order);
  }

  /**
   * A trade between a taker and a maker, at the maker's price. Spot: the buyer's notional goes from
   * its hold to escrow (until delivery) and its fee to the exchange; the seller's fee is computed
   * now and charged when it is paid for delivery; the bond of the filled lots stays on the
   * provider's bond account but leaves the order: it backs the fill's delivery now, which releases
   * it (or pays a penalty from it) at the window's close. Forwards: no notional moves (margin backs
   * the position); both sides pay their fee now, from the order's fee hold. Either way the rest of
   * each hold is trimmed to what the order's open lots need.
   */
  trade(id: string, seq: number, maker: LiveOrder, taker: LiveOrder, priceTicks: number, lots: number, at: Date): FillRecord {
    const [buyer, seller] = taker.side === 'buy' ? [taker, maker] : [maker, taker];
    const bought = fillMoney(this.money, buyer.fees, priceTicks, lots, buyer === taker ? 'taker' : 'maker');
    const sold = fillMoney(this.money, seller.fees, priceTicks, lots, seller === taker ? 'taker' : 'maker');
    const sellerHoldBefore = this.openHold(seller);
    const [buyerOpen, sellerOpen] = [openPart(buyer), openPart(seller)];
    const buyerAccounts = this.accountsOf(buyer.participantId);
    if (this.rules.buyerNotionalToEscrow) {
      this.move(`fill:${id}:escrow`, buyerAccounts.held, buyerAccounts.escrow, bought.notional, 'fill-escrow', id);
      buyer.hold -= bought.notional;
    }
    this.move(`fill:${id}:buyer-fee`, buyerAccounts.held, this.feesAccount, bought.fee, 'fill-fee', id);
    buyer.hold -= bought.fee;
    if (this.rules.sellerFeeAtTrade) {
      this.move(`fill:${id}:seller-fee`, this.accountsOf(seller.participantId).held, this.feesAccount, sold.fee, 'fill-fee', id);
      seller.hold -= sold.fee;
    }
    buyer.fees = bought.after;
    buyer.feesPaid += bought.fee;
    seller.fees = sold.after;
    seller.feesPaid += sold.fee;
    for (const order of [maker, taker]) {
      order.filled += lots;
      if (openLots(order) === 0) order.status = 'filled';
      this.changed.set(order.id, order);
    }
    if (this.keeper) {
      this.keeper.openChanged(buyer, buyerOpen);
      this.keeper.openChanged(seller, sellerOpen);
      this.keeper.traded(buyer, seller, priceTicks, lots, seq);
    }
    this.adjustHold(buyer, `fill:${id}`, this.openHold(buyer));
    let bond = 0n;
    if (this.rules.sellerFeeAtTrade) {
      this.adjustHold(seller, `fill:${id}`, this.openHold(seller));
    } else if (this.rules.sellHoldFollowsFill) {
      // The seller's bond stays whole on its account: the part for the lots that filled now backs their delivery.
      bond = sellerHoldBefore - this.openHold(seller);
      seller.hold -= bond;
    }
    return {
      id,
      seq,
      makerOrderId: maker.id,
      takerOrderId: taker.id,
      buyerId: buyer.participantId,
      sellerId: seller.participantId,
      takerSide: taker.side,
      priceTicks,
      lots,
      notional: bought.notional,
      buyerFee: bought.fee,
      sellerFee: sold.fee,
      bond,
      createdAt: at,
    };
  }

  private move(id: string, debit: AccountId, credit: AccountId, amount: bigint, code: string, ref: string): void {
    if (amount > 0n) this.transfers.push({ id, debitAccountId: debit, creditAccountId: credit, amount, code, ref });
  }
}

/** An order's open part now (nothing once it is closed). */
export const openPart = (order: LiveOrder): OpenPart => ({ lots: order.status === 'open' ? openLots(order) : 0, priceTicks: order.priceTicks });
