import { feeMicros, notionalMicros } from '../../markets/price.js';
import type { ProductBookAccess } from '../../orders/core/position-keeper.js';
import { allocateExpiry, dailySchedule } from './allocation.js';
import { dailyMark } from './daily-mark.js';
import type { MarkFacts } from './forward-book.js';
import type { ForwardKeeper } from './forward-keeper.js';
import { flatPosition } from './positions.js';
import { fundExpiry } from './waterfall.js';

const DAY_MS = 86_400_000;

/** One delivery an expiry creates: a day of one short's allocation to one long, at the settlement price. */
export interface ExpiryDelivery {
  /** `<symbol>:x:<allocation>:<day>`: the delivery's fill id, and the name of its escrow transfer. */
  readonly id: string;
  readonly buyerId: string;
  readonly sellerId: string;
  readonly lots: number;
  readonly priceTicks: number;
  readonly notional: bigint;
  readonly buyerFee: bigint;
  readonly sellerFee: bigint;
  readonly bond: bigint;
  /** The window's start: 00:00 UTC of the delivery day (the window is that day). */
  readonly createdAt: Date;
}

export interface ExpiryOutcome {
  readonly settlementPriceTicks: number;
  /** The day of the final mark, whose price is the settlement price. */
  readonly settlementDay: string;
  readonly deliveries: readonly ExpiryDelivery[];
  /** Longs cut for not funding their escrow: lots each lost. */
  readonly cut: ReadonlyArray<{ readonly participantId: string; readonly lots: number }>;
  readonly repeated: boolean;
}

/**
 * Expiry at `lastTradeAt` (market-rules §6): the final mark is the settlement price; open orders
 * are cancelled; each long funds its full notional in escrow (margin first, then cash) or is cut
 * to what it can fund; shorts are allocated to longs (pro rata, remainder to the oldest); each
 * allocation becomes one delivery per day of the period, with escrow from the long and a bond
 * from the short (its margin first, then cash); what margin is left goes back to available and
 * every position is closed. From there the deliveries settle exactly as spot ones do.
 */
export function expireContract(keeper: ForwardKeeper, day: string, facts: MarkFacts, access: ProductBookAccess): ExpiryOutcome {
  const { terms, book } = keeper;
  const open = [...book.positions.values()].filter((p) => p.lots !== 0);
  const resting = [...access.orders.values()].filter((o) => o.status === 'open');
  if (open.length === 0) {
    // Nothing to settle or deliver: the contract only closes its book (cancels release their margin).
    for (const order of resting) access.cancel(order.id, 'contract_expired');
    const last = book.lastMark;
    return { settlementPriceTicks: last?.priceTicks ?? 0, settlementDay: last?.day ?? day, deliveries: [], cut: [], repeated: resting.length === 0 };
  }
  const marked = dailyMark(keeper, { day, final: true }, facts, access);
  const settlement = marked.mark.priceTicks;
  for (const order of resting) access.cancel(order.id, 'contract_expired');

  const symbol = terms.symbol;
  const perLot = notionalMicros(settlement, 1, terms);
  const move = (participantId: string, leg: string, from: 'margin' | 'available', to: 'held' | 'bond' | 'available', amount: bigint) => {
    if (amount <= 0n) return;
    if (from === 'available' && !access.reserve(participantId, amount)) throw new Error(`expiry took more cash from ${participantId} than it had`);
    const accounts = access.accountsOf(participantId);
    access.transfer({ id: `expiry:${symbol}:${participantId}:${leg}`, debitAccountId: accounts[from], creditAccountId: accounts[to], amount, code: `expiry-${leg}`, ref: symbol });
  };

  const longs = [...book.positions.values()].filter((p) => p.lots > 0);
  const funded = fundExpiry({
    longs: longs.map((p) => ({ participantId: p.participantId, lots: p.lots, margin: keeper.position(p.participantId).margin, available: access.spendable(p.participantId) })),
    notionalPerLot: perLot,
  });
  const marginLeft = new Map([...book.positions.values()].map((p) => [p.participantId, keeper.position(p.participantId).margin]));
  const cashLeft = new Map([...book.positions.keys()].map((id) => [id, access.spendable(id)]));
  const cut: Array<{ participantId: string; lots: number }> = [];
  for (const f of funded) {
    move(f.participantId, 'fund-margin', 'margin', 'held', f.fromMargin);
    move(f.participantId, 'fund-cash', 'available', 'held', f.fromAvailable);
    marginLeft.set(f.participantId, marginLeft.get(f.participantId)! - f.fromMargin);
    cashLeft.set(f.participantId, (cashLeft.get(f.participantId) ?? 0n) - f.fromAvailable);
    const position = keeper.position(f.participantId);
    if (f.fundedLots < position.lots) {
      cut.push({ participantId: f.participantId, lots: position.lots - f.fundedLots });
      keeper.recorded.calls.push({ participantId: f.participantId, event: 'defaulted', equity: position.margin, requirement: BigInt(position.lots) * perLot, day, amount: BigInt(position.lots - f.fundedLots) * perLot });
    }
  }

  const allocations = allocateExpiry(
    funded.filter((f) => f.fundedLots > 0).map((f) => ({ participantId: f.participantId, lots: f.fundedLots, openedSeq: keeper.position(f.participantId).openedSeq })),
    [...book.positions.values()].filter((p) => p.lots < 0).map((p) => ({ participantId: p.participantId, lots: -p.lots, openedSeq: p.openedSeq })),
  );
  const days = Math.round((terms.deliveryEnd.getTime() - terms.deliveryStart.getTime()) / DAY_MS);
  const deliveries: ExpiryDelivery[] = [];
  const bondOwed = new Map<string, bigint>();
  allocations.forEach((allocation, a) => {
    dailySchedule(allocation.lots, days).forEach((lots, d) => {
      if (lots === 0) return;
      const notional = BigInt(lots) * perLot;
      const bond = feeMicros(notional, terms.bondBps);
      bondOwed.set(allocation.shortId, (bondOwed.get(allocation.shortId) ?? 0n) + bond);
      deliveries.push({
        id: `${symbol}:x:${a}:${d}`,
        buyerId: allocation.longId,
        sellerId: allocation.shortId,
        lots,
        priceTicks: settlement,
        notional,
        buyerFee: 0n,
        sellerFee: 0n,
        bond,
        createdAt: new Date(terms.deliveryStart.getTime() + d * DAY_MS),
      });
      const buyer = access.accountsOf(allocation.longId);
      access.transfer({ id: `fill:${symbol}:x:${a}:${d}:escrow`, debitAccountId: buyer.held, creditAccountId: buyer.escrow, amount: notional, code: 'fill-escrow', ref: `${symbol}:x:${a}:${d}` });
    });
  });
  // A short's bonds come from its margin, then its cash; a bond it cannot cover is a default on the bond.
  for (const [shortId, owed] of bondOwed) {
    const fromMargin = owed < marginLeft.get(shortId)! ? owed : marginLeft.get(shortId)!;
    const cash = cashLeft.get(shortId) ?? 0n;
    const fromCash = owed - fromMargin < cash ? owed - fromMargin : cash;
    move(shortId, 'bond-margin', 'margin', 'bond', fromMargin);
    move(shortId, 'bond-cash', 'available', 'bond', fromCash);
    marginLeft.set(shortId, marginLeft.get(shortId)! - fromMargin);
    if (fromMargin + fromCash < owed) {
      keeper.recorded.calls.push({ participantId: shortId, event: 'defaulted', equity: 0n, requirement: owed, day, amount: owed - fromMargin - fromCash });
      shortBonds(deliveries, shortId, fromMargin + fromCash);
    }
  }
  for (const position of [...book.positions.values()]) {
    move(position.participantId, 'release', 'margin', 'available', marginLeft.get(position.participantId) ?? 0n);
    keeper.setPosition({ ...flatPosition(position.participantId), variation: position.variation });
    book.requirements.set(position.participantId, 0n);
  }
  const outcome: ExpiryOutcome = { settlementPriceTicks: settlement, settlementDay: marked.mark.day, deliveries, cut, repeated: false };
  keeper.recorded.expiry = outcome;
  return outcome;
}

/** Scales a short's delivery bonds down to the `held` it could put up, in delivery order. */
function shortBonds(deliveries: ExpiryDelivery[], shortId: string, held: bigint): void {
  let left = held;
  deliveries.forEach((d, i) => {
    if (d.sellerId !== shortId) return;
    const bond = d.bond < left ? d.bond : left;
    left -= bond;
    deliveries[i] = { ...d, bond };
  });
}
