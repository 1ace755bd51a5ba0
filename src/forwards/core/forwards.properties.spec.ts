import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { notionalPerTickLot, type PriceGrid } from '../../markets/price.js';
import { allocateExpiry, dailySchedule, type ExpiryPosition } from './allocation.js';
import { forwardCapacityRefusal, spreadOverDays } from './capacity.js';
import { markPrice } from './mark-price.js';
import { applyTrade, flatPosition, positionVariation, rebaseToMark, type Position } from './positions.js';
import { variationMargin, type VariationTrade } from './variation-margin.js';
import { fundExpiry, settleVariation } from './waterfall.js';

const RUNS = 150;
const PARTICIPANTS: readonly string[] = ['p0', 'p1', 'p2', 'p3', 'p4'];
const sum = (values: Iterable<bigint>) => [...values].reduce((a, b) => a + b, 0n);
const sumOf = <T>(items: readonly T[], f: (t: T) => bigint) => sum(items.map(f));

const grid = fc.constantFrom<PriceGrid>({ tickMicroUsdPerMTok: 1000, lotTokens: 1000 }, { tickMicroUsdPerMTok: 10_000, lotTokens: 10_000 }, { tickMicroUsdPerMTok: 1, lotTokens: 1_000_000 }, { tickMicroUsdPerMTok: 1000, lotTokens: 5000 });
const price = fc.integer({ min: 1, max: 5_000 });
const trade = fc
  .record({ buyer: fc.integer({ min: 0, max: 4 }), offset: fc.integer({ min: 1, max: 4 }), priceTicks: price, lots: fc.integer({ min: 1, max: 1_000 }) })
  .map(({ buyer, offset, priceTicks, lots }): VariationTrade => ({ buyerId: PARTICIPANTS[buyer], sellerId: PARTICIPANTS[(buyer + offset) % 5], priceTicks, lots }));
const day = fc.record({ trades: fc.array(trade, { maxLength: 6 }), markTicks: price });
const contract = fc.record({ grid, deposits: fc.tuple(...PARTICIPANTS.map(() => fc.bigInt({ min: 0n, max: 10_000_000n }))), days: fc.array(day, { minLength: 1, maxLength: 8 }) });

describe('forwards core properties', () => {
  test('positions net to zero; variation margin sums to zero every day, agrees with each position, and equity meets the closed form', () => {
    fc.assert(
      fc.property(contract, ({ grid, deposits, days }) => {
        const positions = new Map<string, Position>(PARTICIPANTS.map((p) => [p, flatPosition(p)]));
        const equity = new Map(PARTICIPANTS.map((p, i) => [p, deposits[i]]));
        const allTrades: VariationTrade[] = [];
        let previousMarkTicks: number | undefined;
        let seq = 0;
        for (const { trades, markTicks } of days) {
          const atPreviousMark = new Map([...positions].map(([p, position]) => [p, position.lotsAtMark]));
          for (const t of trades) {
            seq++;
            for (const [id, side] of [[t.buyerId, 'buy'], [t.sellerId, 'sell']] as const) {
              positions.set(id, applyTrade(positions.get(id)!, { side, lots: t.lots, priceTicks: t.priceTicks, marginPriceTicks: t.priceTicks, seq }, grid));
            }
            expect([...positions.values()].reduce((net, p) => net + p.lots, 0)).toBe(0);
          }
          allTrades.push(...trades);
          const vm = variationMargin({ grid, markTicks, previousMarkTicks, positionsAtPreviousMark: atPreviousMark, trades });
          expect(sum(vm.values())).toBe(0n);
          for (const [id, position] of positions) {
            const amount = vm.get(id) ?? 0n;
            expect(positionVariation(position, markTicks, previousMarkTicks, grid)).toBe(amount);
            positions.set(id, rebaseToMark(position, markTicks, amount, grid));
            equity.set(id, equity.get(id)! + amount);
          }
          previousMarkTicks = markTicks;
        }
        const lastMark = BigInt(previousMarkTicks!);
        PARTICIPANTS.forEach((p, i) => {
          const closedForm = sumOf(allTrades, (t) => {
            const signed = t.buyerId === p ? BigInt(t.lots) : t.sellerId === p ? -BigInt(t.lots) : 0n;
            return (lastMark - BigInt(t.priceTicks)) * signed * notionalPerTickLot(grid);
          });
          expect(equity.get(p)).toBe(deposits[i] + closedForm);
          expect(positions.get(p)!.variation).toBe(equity.get(p)! - deposits[i]);
        });
      }),
      { numRuns: RUNS },
    );
  });

  const funds = fc.record({ margin: fc.bigInt({ min: 0n, max: 2_000n }), available: fc.bigInt({ min: 0n, max: 2_000n }), bond: fc.bigInt({ min: 0n, max: 2_000n }) });
  const waterfall = fc
    .record({
      amounts: fc.array(fc.bigInt({ min: -5_000n, max: 5_000n }), { minLength: 1, maxLength: 7 }),
      funds: fc.array(fc.option(funds, { nil: undefined }), { minLength: 8, maxLength: 8 }),
      insurance: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10_000n }), fc.constant(1_000_000n)),
    })
    .map(({ amounts, funds, insurance }) => {
      // The last participant balances the others: variation margin sums to zero.
      const all = [...amounts, -sum(amounts)];
      const ids = all.map((_, i) => `m${(i * 5) % all.length}-${i}`);
      return {
        amounts: new Map(all.map((a, i) => [ids[i], a])),
        funds: new Map(ids.flatMap((id, i) => (funds[i] ? [[id, funds[i]!] as const] : []))),
        insurance,
      };
    });

  test('the waterfall pays out exactly what it collected, takes no loser beyond what it owes, and cuts winners pro rata', () => {
    fc.assert(
      fc.property(waterfall, (inputs) => {
        const s = settleVariation(inputs);
        const collected = sumOf(s.collections, (c) => c.amount);
        expect(sumOf(s.payments, (p) => p.amount)).toBe(collected);
        const of = <T extends { participantId: string; amount: bigint }>(items: T[], id: string) => sumOf(items.filter((i) => i.participantId === id), (i) => i.amount);
        const winners = [...inputs.amounts].filter(([, a]) => a > 0n);
        const owedToWinners = sum(winners.map(([, a]) => a));
        const shortfall = owedToWinners - collected;
        for (const [id, amount] of winners) {
          expect(of(s.payments, id) + of(s.cuts, id)).toBe(amount);
          const cut = of(s.cuts, id);
          // Pro rata: within one micro-dollar of shortfall × amount / owedToWinners.
          expect(cut * owedToWinners > shortfall * amount - owedToWinners && cut * owedToWinners < shortfall * amount + owedToWinners).toBe(true);
        }
        expect(sumOf(s.cuts, (c) => c.amount)).toBe(shortfall);
        let insuranceUsed = 0n;
        for (const [id, amount] of inputs.amounts) {
          const mine = s.collections.filter((c) => c.participantId === id);
          if (amount >= 0n) {
            expect(mine).toEqual([]);
            continue;
          }
          const f = inputs.funds.get(id) ?? { margin: 0n, available: 0n, bond: 0n };
          const own = mine.filter((c) => c.source !== 'insurance');
          const insured = sumOf(mine.filter((c) => c.source === 'insurance'), (c) => c.amount);
          expect(own.map((c) => c.source)).toEqual((['margin', 'available', 'bond'] as const).filter((k) => own.some((c) => c.source === k)));
          for (const c of own) expect(c.amount).toBeLessThanOrEqual(f[c.source as 'margin' | 'available' | 'bond']);
          const ownTotal = sumOf(own, (c) => c.amount);
          expect(ownTotal + insured).toBeLessThanOrEqual(-amount);
          const unpaid = s.defaults.find((d) => d.participantId === id)?.unpaid ?? 0n;
          expect(ownTotal + unpaid).toBe(-amount);
          // Insurance pays only a shortfall: the loser's own funds were all taken first.
          if (unpaid > 0n) expect(ownTotal).toBe(f.margin + f.available + f.bond);
          expect(insured).toBeLessThanOrEqual(unpaid);
          insuranceUsed += insured;
        }
        const unpaidTotal = sumOf(s.defaults, (d) => d.unpaid);
        expect(insuranceUsed).toBe(unpaidTotal < inputs.insurance ? unpaidTotal : inputs.insurance);
      }),
      { numRuns: RUNS },
    );
  });

  const sizes = fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 6 });
  const positionsOf = (prefix: string, lots: number[], seqs: number[]): ExpiryPosition[] => lots.map((l, i) => ({ participantId: `${prefix}${i}`, lots: l, openedSeq: seqs[i % seqs.length] }));
  const expiry = fc
    .record({ longs: sizes, shorts: sizes, extra: fc.oneof(fc.constant(0), fc.nat({ max: 300 })), seqs: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }) })
    .map(({ longs, shorts, extra, seqs }) => {
      // The smaller side is topped up to match, then the shorts get `extra` (longs cut for not funding).
      const gap = longs.reduce((a, b) => a + b, 0) - shorts.reduce((a, b) => a + b, 0);
      const longLots = gap < 0 ? [...longs, -gap] : longs;
      const shortLots = gap > 0 ? [...shorts, gap] : [...shorts];
      shortLots[shortLots.length - 1] += extra;
      return { longs: positionsOf('l', longLots, seqs), shorts: positionsOf('s', shortLots, [...seqs].reverse()) };
    });

  test('allocation gives every long exactly its lots, and each short its pro rata share (all of it when totals match)', () => {
    fc.assert(
      fc.property(expiry, ({ longs, shorts }) => {
        const allocations = allocateExpiry(longs, shorts);
        const longTotal = longs.reduce((a, p) => a + p.lots, 0);
        const shortTotal = shorts.reduce((a, p) => a + p.lots, 0);
        expect(shortTotal).toBeGreaterThanOrEqual(longTotal);
        for (const l of longs) expect(allocations.filter((a) => a.longId === l.participantId).reduce((n, a) => n + a.lots, 0)).toBe(l.lots);
        for (const s of shorts) {
          const given = allocations.filter((a) => a.shortId === s.participantId).reduce((n, a) => n + a.lots, 0);
          if (shortTotal === longTotal) expect(given).toBe(s.lots);
          const exact = (longTotal * s.lots) / shortTotal;
          expect(given === Math.floor(exact) || given === Math.floor(exact) + 1).toBe(true);
        }
        expect(allocations.every((a) => a.lots > 0)).toBe(true);
        expect(new Set(allocations.map((a) => `${a.shortId}>${a.longId}`)).size).toBe(allocations.length);
        // Deterministic: the order the positions come in does not matter.
        expect(allocateExpiry([...longs].reverse(), [...shorts].reverse())).toEqual(allocations);
      }),
      { numRuns: RUNS },
    );
  });

  test('daily schedules add up to the quantity exactly, flat to one unit, the larger days first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 1, max: 31 }), (lots, days) => {
        const schedule = dailySchedule(lots, days);
        expect(schedule.reduce((a, b) => a + b, 0)).toBe(lots);
        expect(schedule.length).toBe(days);
        expect(schedule[0] - schedule[days - 1]).toBeLessThanOrEqual(1);
        expect(schedule.every((d, i) => i === 0 || d <= schedule[i - 1])).toBe(true);
        expect(sum(spreadOverDays(BigInt(lots) * 1_000n + 7n, days))).toBe(BigInt(lots) * 1_000n + 7n);
      }),
      { numRuns: RUNS },
    );
  });

  test('expiry funding pays exactly the funded lots, margin first, and funds as many lots as the money covers', () => {
    const long = fc.record({ lots: fc.integer({ min: 0, max: 1_000 }), margin: fc.bigInt({ min: 0n, max: 3_000_000n }), available: fc.bigInt({ min: 0n, max: 3_000_000n }) });
    fc.assert(
      fc.property(fc.array(long, { maxLength: 5 }), fc.bigInt({ min: 1n, max: 10_000n }), (longs, notionalPerLot) => {
        const funded = fundExpiry({ longs: longs.map((l, i) => ({ participantId: `l${i}`, ...l })), notionalPerLot });
        funded.forEach((f, i) => {
          const { lots, margin, available } = longs[i];
          expect(f.fromMargin + f.fromAvailable).toBe(BigInt(f.fundedLots) * notionalPerLot);
          expect(f.fromMargin <= margin && f.fromAvailable <= available).toBe(true);
          if (f.fromAvailable > 0n) expect(f.fromMargin).toBe(margin);
          expect(f.fundedLots === lots || BigInt(f.fundedLots + 1) * notionalPerLot > margin + available).toBe(true);
        });
      }),
      { numRuns: RUNS },
    );
  });

  test('the mark from trades lies between their prices; a mid between the bid and the ask', () => {
    const quote = fc.tuple(price, fc.integer({ min: 0, max: 100 })).map(([bid, spread]) => ({ bestBid: bid, bestAsk: bid + spread }));
    fc.assert(
      fc.property(fc.array(fc.record({ priceTicks: price, lots: fc.integer({ min: 1, max: 1_000 }) }), { maxLength: 5 }), quote, (trades, { bestBid, bestAsk }) => {
        const mark = markPrice({ trades, bestBid, bestAsk, collarBps: 1000 })!;
        const [lo, hi] = trades.length > 0 ? [Math.min(...trades.map((t) => t.priceTicks)), Math.max(...trades.map((t) => t.priceTicks))] : [bestBid, bestAsk];
        expect(mark.source).toBe(trades.length > 0 ? 'trades' : 'mid');
        expect(mark.priceTicks >= lo && mark.priceTicks <= hi).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test('a forward sell is refused exactly when some day of its period would go over, naming the first such day', () => {
    const days = [20_000, 20_001, 20_002, 20_003];
    const load = fc.array(fc.bigInt({ min: 0n, max: 1_000n }), { minLength: 4, maxLength: 4 });
    fc.assert(
      fc.property(load, load, fc.bigInt({ min: 0n, max: 1n }), (committed, added, tokensPerSecond) => {
        const limit = tokensPerSecond * 86_400n;
        const refusal = forwardCapacityRefusal({ activeNodes: 1, tokensPerSecond: tokensPerSecond, periodDays: days, committedTokensByDay: new Map(days.map((d, i) => [d, committed[i] * 100n])), addedTokensPerDay: added.map((a) => a * 100n) });
        const over = days.findIndex((_, i) => (committed[i] + added[i]) * 100n > limit);
        expect(refusal?.code).toBe(over === -1 ? undefined : 'CAPACITY_EXCEEDED');
        if (refusal) expect(refusal.message).toContain(new Date(days[over] * 86_400_000).toISOString().slice(0, 10));
      }),
      { numRuns: RUNS },
    );
  });
});
