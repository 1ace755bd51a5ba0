// Test support for the forward scenarios: one contract's positions and its participants' funds,
// marked day by day and expired the way the contract's writer would, with every core rule in play.
import { DEFAULT_GRID, notionalMicros, type PriceGrid } from '../../../markets/price.js';
import { allocateExpiry, dailySchedule, type Allocation } from '../allocation.js';
import { forwardCapacityRefusal, spreadOverDays } from '../capacity.js';
import { markPrice, type Mark } from '../mark-price.js';
import { applyTrade, flatPosition, positionVariation, rebaseToMark, type Position } from '../positions.js';
import { variationMargin } from '../variation-margin.js';
import { fundExpiry, settleVariation, type ExpiryFunding, type VariationSettlement } from '../waterfall.js';
import type { CapacityScenario, ContractScenario, Funds, MarkDay } from './forward-scenario.js';

const DAY_MS = 86_400_000;
export const dayNumber = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / DAY_MS;

export interface MarkResult {
  readonly mark: Mark;
  readonly variation: Map<string, bigint>;
  readonly settlement: VariationSettlement;
}

export interface ExpiryResult {
  readonly funding: ExpiryFunding[];
  readonly allocations: Allocation[];
  readonly schedules: Record<string, number[]>;
}

/** One contract driven mark by mark; funds move as the ledger would move them. */
export class ContractHarness {
  readonly positions = new Map<string, Position>();
  readonly funds = new Map<string, Funds>();
  insurance: bigint;
  previousMarkTicks?: number;
  private lastTradeTicks?: number;
  private seq = 0;

  constructor(
    scenario: Pick<ContractScenario, 'participants' | 'insurance'>,
    readonly grid: PriceGrid = DEFAULT_GRID,
    readonly collarBps = 1000,
  ) {
    for (const [id, f] of Object.entries(scenario.participants)) {
      this.funds.set(id, { ...f, escrow: 0n });
      this.positions.set(id, flatPosition(id));
    }
    this.insurance = scenario.insurance;
  }

  /** The day's trades, then the mark: price, variation (checked against each position's own), waterfall. */
  markDay(day: MarkDay): MarkResult {
    const atPreviousMark = new Map([...this.positions].map(([id, p]) => [id, p.lotsAtMark]));
    for (const t of day.trades) {
      this.seq++;
      for (const [id, side] of [[t.buyerId, 'buy'], [t.sellerId, 'sell']] as const) {
        this.positions.set(id, applyTrade(this.positions.get(id)!, { side, lots: t.lots, priceTicks: t.priceTicks, marginPriceTicks: t.priceTicks, seq: this.seq }, this.grid));
      }
      this.lastTradeTicks = t.priceTicks;
    }
    const mark = markPrice({
      trades: day.trades.filter((t) => t.lastHour),
      bestBid: day.bestBid,
      bestAsk: day.bestAsk,
      referenceTicks: this.lastTradeTicks ?? day.spotIndexTicks,
      collarBps: this.collarBps,
      previousMarkTicks: this.previousMarkTicks,
      spotIndexTicks: day.spotIndexTicks,
    });
    if (!mark) throw new Error(`nothing to mark ${day.day} at`);
    const variation = variationMargin({ grid: this.grid, markTicks: mark.priceTicks, previousMarkTicks: this.previousMarkTicks, positionsAtPreviousMark: atPreviousMark, trades: day.trades });
    for (const p of this.positions.values()) {
      const own = positionVariation(p, mark.priceTicks, this.previousMarkTicks, this.grid);
      if (own !== (variation.get(p.participantId) ?? 0n)) throw new Error(`${p.participantId}: position variation ${own} differs from the contract's`);
    }
    const settlement = settleVariation({ amounts: variation, funds: this.funds, insurance: this.insurance });
    for (const c of settlement.collections) {
      if (c.source === 'insurance') this.insurance -= c.amount;
      else this.move(c.participantId, { [c.source]: -c.amount });
    }
    for (const p of settlement.payments) this.move(p.participantId, { margin: p.amount });
    for (const [id, p] of this.positions) this.positions.set(id, rebaseToMark(p, mark.priceTicks, variation.get(id) ?? 0n, this.grid));
    this.previousMarkTicks = mark.priceTicks;
    return { mark, variation, settlement };
  }

  /** Expiry at the last mark: longs fund their notional into escrow, the funded lots are allocated and scheduled. */
  expire(periodDays: number): ExpiryResult {
    const settlement = this.previousMarkTicks!;
    const held = [...this.positions.values()];
    const longs = held.filter((p) => p.lots > 0);
    const funding = fundExpiry({
      longs: longs.map((p) => ({ participantId: p.participantId, lots: p.lots, margin: this.funds.get(p.participantId)!.margin, available: this.funds.get(p.participantId)!.available })),
      notionalPerLot: notionalMicros(settlement, 1, this.grid),
    });
    for (const f of funding) this.move(f.participantId, { margin: -f.fromMargin, available: -f.fromAvailable, escrow: f.fromMargin + f.fromAvailable });
    const funded = funding.filter((f) => f.fundedLots > 0).map((f) => ({ participantId: f.participantId, lots: f.fundedLots, openedSeq: this.positions.get(f.participantId)!.openedSeq }));
    const shorts = held.filter((p) => p.lots < 0).map((p) => ({ participantId: p.participantId, lots: -p.lots, openedSeq: p.openedSeq }));
    const allocations = allocateExpiry(funded, shorts);
    const schedules = Object.fromEntries(allocations.map((a) => [`${a.shortId}>${a.longId}`, dailySchedule(a.lots, periodDays)]));
    return { funding, allocations, schedules };
  }

  /** Every micro-dollar in play: participants' funds and the insurance fund. */
  total(): bigint {
    let total = this.insurance;
    for (const f of this.funds.values()) total += f.margin + f.available + f.bond + f.escrow;
    return total;
  }

  private move(id: string, change: Partial<Record<keyof Funds, bigint>>): void {
    const f = this.funds.get(id)!;
    this.funds.set(id, { margin: f.margin + (change.margin ?? 0n), available: f.available + (change.available ?? 0n), bond: f.bond + (change.bond ?? 0n), escrow: f.escrow + (change.escrow ?? 0n) });
  }
}

/** A provider's sells in order, each checked against what it already committed per day and kept when accepted. */
export function runCapacity(scenario: CapacityScenario): ('ok' | { code: string; message: string })[] {
  const committed = new Map<number, bigint>();
  const commit = (day: number, tokens: bigint) => committed.set(day, (committed.get(day) ?? 0n) + tokens);
  for (const s of scenario.spotDeliveries) commit(dayNumber(s.day), s.tokens);
  return scenario.sells.map((sell) => {
    const periodDays = Array.from({ length: sell.days }, (_, i) => dayNumber(sell.firstDay) + i);
    const added = spreadOverDays(BigInt(sell.lots) * BigInt(scenario.lotTokens), sell.days);
    const refusal = forwardCapacityRefusal({ activeNodes: scenario.activeNodes, tokensPerSecond: scenario.tokensPerSecond, periodDays, committedTokensByDay: committed, addedTokensPerDay: added });
    if (refusal) return { code: refusal.code, message: refusal.message };
    periodDays.forEach((day, i) => commit(day, added[i]));
    return 'ok';
  });
}
