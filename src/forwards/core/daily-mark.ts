import { unprocessable } from '../../common/domain-error.js';
import { TransferFlags, type TransferRequest } from '../../ledger/core/index.js';
import type { ProductBookAccess } from '../../orders/core/position-keeper.js';
import type { CallRecord, MarkFacts, MarkRecord } from './forward-book.js';
import type { ForwardKeeper } from './forward-keeper.js';
import { maintenanceRequirement } from './margin.js';
import { markPrice } from './mark-price.js';
import { positionVariation, rebaseToMark } from './positions.js';
import { settleVariation } from './waterfall.js';

export interface MarkRequest {
  /** The UTC day the mark closes, `YYYY-MM-DD`. */
  readonly day: string;
  /** An admin's price, with the reason recorded in the audit trail and the mark's inputs. */
  readonly override?: { readonly priceTicks: number; readonly reason: string };
  readonly final?: boolean;
}

export interface MarkOutcome {
  readonly mark: MarkRecord;
  /** The day was marked before: nothing moved this time. */
  readonly repeated: boolean;
}

/**
 * The daily mark of one contract (market-rules §6), run by its writer so that it sees the book and
 * the positions exactly as committed and commits with them: the price by the mark rule; variation
 * margin per position, settled as one linked chain (losers pay into clearing from their margin,
 * cash, bond, then the insurance fund; winners are paid from clearing, cut pro rata if short);
 * positions re-based to the mark; margin calls raised (orders that would grow a called position
 * are cancelled) and cured. Once per contract and day: a repeated day moves nothing.
 */
export function dailyMark(keeper: ForwardKeeper, request: MarkRequest, facts: MarkFacts, access: ProductBookAccess): MarkOutcome {
  const { terms, book } = keeper;
  const previous = book.lastMark;
  if (previous && previous.day >= request.day) {
    return { mark: { day: previous.day, priceTicks: previous.priceTicks, source: 'previous', previousPriceTicks: null, final: false, inputs: {}, at: new Date(access.now) }, repeated: true };
  }
  const chosen = request.override
    ? { priceTicks: request.override.priceTicks, source: 'override' as const }
    : markPrice({
        trades: facts.recentTrades,
        bestBid: access.bestBid(),
        bestAsk: access.bestAsk(),
        referenceTicks: access.referencePriceTicks,
        collarBps: terms.collarBps,
        previousMarkTicks: previous?.priceTicks,
        spotIndexTicks: facts.spotIndexTicks,
      });
  if (!chosen) throw unprocessable('NO_MARK_PRICE', `${terms.symbol} has no trades, no two-sided book, no previous mark and no spot index to mark at`);
  const mark = chosen.priceTicks;

  const amounts = new Map<string, bigint>();
  for (const position of book.positions.values()) {
    const amount = positionVariation(position, mark, previous?.priceTicks, terms);
    if (amount !== 0n) amounts.set(position.participantId, amount);
  }
  const funds = new Map(
    [...amounts].filter(([, a]) => a < 0n).map(([id]) => [id, { margin: keeper.position(id).margin, available: access.spendable(id), bond: facts.freeBond.get(id) ?? 0n }]),
  );
  const settled = settleVariation({ amounts, funds, insurance: facts.insurance });
  const chain: TransferRequest[] = [];
  const id = (participantId: string, leg: string) => `vm:${terms.symbol}:${request.day}:${participantId}:${leg}`;
  const fromMargin = new Map<string, bigint>();
  for (const c of settled.collections) {
    const accounts = access.accountsOf(c.participantId);
    const debit = c.source === 'insurance' ? facts.system.insurance : accounts[c.source];
    if (c.source === 'available' && !access.reserve(c.participantId, c.amount)) throw new Error(`variation margin took more cash from ${c.participantId} than it had`);
    chain.push({ id: id(c.participantId, c.source), debitAccountId: debit, creditAccountId: facts.system.clearing, amount: c.amount, code: 'variation-margin-collect', ref: `${terms.symbol}:${request.day}` });
    if (c.source === 'margin') fromMargin.set(c.participantId, (fromMargin.get(c.participantId) ?? 0n) + c.amount);
  }
  const paid = new Map<string, bigint>();
  for (const p of settled.payments) {
    chain.push({ id: id(p.participantId, 'pay'), debitAccountId: facts.system.clearing, creditAccountId: access.accountsOf(p.participantId).margin, amount: p.amount, code: 'variation-margin-pay', ref: `${terms.symbol}:${request.day}` });
    paid.set(p.participantId, p.amount);
  }
  // One linked chain per contract and day: every leg applies, or none.
  chain.forEach((t, i) => access.transfer(i < chain.length - 1 ? { ...t, flags: TransferFlags.Linked } : t));

  const events: CallRecord[] = [];
  const paidBy = new Map<string, bigint>();
  for (const c of settled.collections) if (c.source !== 'insurance') paidBy.set(c.participantId, (paidBy.get(c.participantId) ?? 0n) + c.amount);
  for (const position of [...book.positions.values()]) {
    const { participantId } = position;
    const received = (paid.get(participantId) ?? 0n) - (paidBy.get(participantId) ?? 0n);
    const margin = position.margin - (fromMargin.get(participantId) ?? 0n) + (paid.get(participantId) ?? 0n);
    const rebased = { ...rebaseToMark(position, mark, received, terms), margin };
    keeper.setPosition(rebased);
    const initial = keeper.currentRequirement(participantId);
    book.requirements.set(participantId, initial);
    const maintenance = maintenanceRequirement(terms, rebased.lots, mark, terms);
    if (!rebased.inCall && rebased.lots !== 0 && margin < maintenance) {
      keeper.setPosition({ ...rebased, inCall: true });
      events.push({ participantId, event: 'raised', equity: margin, requirement: initial, day: request.day });
      // Orders that would grow the position go; so do closing orders that together could flip it.
      const own = [...access.orders.values()].filter((o) => o.participantId === participantId && o.status === 'open');
      const growing: 'buy' | 'sell' = rebased.lots > 0 ? 'buy' : 'sell';
      const closing = own.filter((o) => o.side !== growing);
      const closingLots = closing.reduce((n, o) => n + o.quantity - o.filled, 0);
      for (const order of own) if (order.side === growing || closingLots > Math.abs(rebased.lots)) access.cancel(order.id, 'margin_call');
    } else if (rebased.inCall && margin >= initial) {
      keeper.setPosition({ ...rebased, inCall: false });
      events.push({ participantId, event: 'cured', equity: margin, requirement: initial, day: request.day });
    }
  }
  for (const d of settled.defaults) events.push({ participantId: d.participantId, event: 'defaulted', equity: keeper.position(d.participantId).margin, requirement: 0n, day: request.day, amount: d.unpaid });
  for (const c of settled.cuts) if (c.amount > 0n) events.push({ participantId: c.participantId, event: 'cut', equity: keeper.position(c.participantId).margin, requirement: 0n, day: request.day, amount: c.amount });
  keeper.recorded.calls.push(...events);

  const record: MarkRecord = {
    day: request.day,
    priceTicks: mark,
    source: chosen.source,
    previousPriceTicks: previous?.priceTicks ?? null,
    final: request.final ?? false,
    inputs: {
      trades: facts.recentTrades.length,
      tradedLots: facts.recentTrades.reduce((n, t) => n + t.lots, 0),
      bestBid: access.bestBid() ?? null,
      bestAsk: access.bestAsk() ?? null,
      referenceTicks: access.referencePriceTicks ?? null,
      previousMarkTicks: previous?.priceTicks ?? null,
      spotIndexTicks: facts.spotIndexTicks ?? null,
      ...(request.override ? { overrideReason: request.override.reason } : {}),
      collected: String(settled.collections.reduce((n, c) => n + c.amount, 0n)),
      fromInsurance: String(settled.collections.filter((c) => c.source === 'insurance').reduce((n, c) => n + c.amount, 0n)),
      cut: String(settled.cuts.reduce((n, c) => n + c.amount, 0n)),
    },
    at: new Date(access.now),
  };
  keeper.recorded.marks.push(record);
  book.lastMark = { day: request.day, priceTicks: mark };
  return { mark: record, repeated: false };
}
