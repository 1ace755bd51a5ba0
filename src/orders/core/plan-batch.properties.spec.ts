import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { DomainError } from '../../common/domain-error.js';
import type { FillRecord } from './batch-money.js';
import type { BookCommand } from './book-commands.js';
import { NO_CAPACITY, type ProviderCapacity } from './capacity.js';
import type { LiveOrder } from './live-order.js';
import type { InstrumentMoney } from './order-money.js';
import type { BatchPlan } from './plan-batch.js';
import { SPOT_RULES } from './product-rules.js';
import { FEES_ACCOUNT, Harness, NOW, spotTerms } from './scenarios/harness.js';

const PARTICIPANTS = ['p0', 'p1', 'p2', 'p3'] as const;
const MAX_ORDER_ID = 8;
const RUNS = 150;

const participant = fc.constantFrom(...PARTICIPANTS);
const price = fc.integer({ min: 97, max: 103 });
const lots = fc.integer({ min: 1, max: 60 });
const stp = fc.constantFrom('cancel_taker' as const, 'cancel_maker' as const, 'cancel_both' as const);

/** A place command; `expiresIn` seconds after the batch's clock, applied when the batch runs. */
const place = fc
  .record({
    participantId: participant,
    side: fc.constantFrom('buy' as const, 'sell' as const),
    market: fc.integer({ min: 0, max: 4 }).map((n) => n === 4),
    tif: fc.constantFrom('GTC' as const, 'IOC' as const, 'FOK' as const, 'GTD' as const),
    priceTicks: price,
    lots,
    postOnly: fc.boolean(),
    stp,
    clientOrderId: fc.option(fc.constantFrom('c1', 'c2', 'c3'), { nil: undefined }),
    expiresIn: fc.integer({ min: 0, max: 3 }),
  })
  .map((p) => ({
    kind: 'place' as const,
    participantId: p.participantId,
    side: p.side,
    type: p.market ? ('market' as const) : ('limit' as const),
    timeInForce: p.market ? (p.tif === 'FOK' ? ('FOK' as const) : ('IOC' as const)) : p.tif,
    ...(p.market ? {} : { priceTicks: p.priceTicks }),
    lots: p.lots,
    postOnly: p.postOnly && !p.market && (p.tif === 'GTC' || p.tif === 'GTD'),
    stp: p.stp,
    ...(p.clientOrderId ? { clientOrderId: p.clientOrderId } : {}),
    ...(!p.market && p.tif === 'GTD' ? { expiresIn: p.expiresIn } : {}),
  }));

const command = fc.oneof(
  { weight: 6, arbitrary: place },
  {
    weight: 2,
    arbitrary: fc
      .record({ participantId: participant, orderId: fc.integer({ min: 1, max: MAX_ORDER_ID }), priceTicks: fc.option(price, { nil: undefined }), lots: fc.option(lots, { nil: undefined }) })
      .map((a) => ({ kind: 'amend' as const, participantId: a.participantId, orderId: a.orderId, ...(a.priceTicks !== undefined ? { priceTicks: a.priceTicks } : {}), ...(a.lots !== undefined ? { lots: a.lots } : {}) })),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), participantId: participant, orderId: fc.integer({ min: 1, max: MAX_ORDER_ID }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel_all' as const), participantId: participant }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) },
);

type GenCommand = (typeof command extends fc.Arbitrary<infer C> ? C : never) & { expiresIn?: number };

const batch = fc.record({
  commands: fc.array(command, { minLength: 1, maxLength: 10 }),
  halted: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  indexPriceTicks: fc.option(price, { nil: undefined }),
});

const capacity = fc.constantFrom<ProviderCapacity>({ activeNodes: 2, tokensPerSecond: 100n, soldBefore: 0 }, NO_CAPACITY, { activeNodes: 1, tokensPerSecond: 1n, soldBefore: 10 }, { activeNodes: 2, tokensPerSecond: 100n, soldBefore: 0 });

const world = fc.record({
  cash: fc.tuple(...PARTICIPANTS.map(() => fc.oneof({ weight: 3, arbitrary: fc.constant(3_000_000n) }, fc.constantFrom(0n, 3_000n), fc.bigInt({ min: 0n, max: 30_000n })))),
  capacity: fc.tuple(...PARTICIPANTS.map(() => capacity)),
  fees: fc.record({ makerFeeBps: fc.constantFrom(0, 7, 20), takerFeeBps: fc.constantFrom(0, 10, 33), bondBps: fc.constantFrom(0, 1000, 1333) }),
  batches: fc.array(batch, { minLength: 1, maxLength: 6 }),
});
type World = typeof world extends fc.Arbitrary<infer W> ? W : never;

function harness(w: World, reference = false): Harness {
  return new Harness({
    participants: Object.fromEntries(PARTICIPANTS.map((p, i) => [p, w.cash[i]])),
    terms: spotTerms(w.fees),
    rules: SPOT_RULES,
    capacity: new Map(PARTICIPANTS.map((p, i) => [p, w.capacity[i]])),
    reference,
  });
}

/** Runs every batch of the world, calling `check` after each; the clock moves 1 s per batch. */
function drive(w: World, h: Harness, check: (plan: BatchPlan, commands: readonly BookCommand[]) => void): void {
  w.batches.forEach((b, i) => {
    h.now = NOW + i * 1000;
    h.terms = spotTerms({ ...w.fees, status: b.halted ? 'halted' : 'active' });
    h.indexPriceTicks = b.indexPriceTicks;
    const commands = b.commands.map((c: GenCommand) => {
      if (c.kind !== 'place' || c.expiresIn === undefined) return c as BookCommand;
      const { expiresIn, ...rest } = c;
      return { ...rest, expiresAt: h.now + expiresIn * 1000 } as BookCommand;
    });
    check(h.run(commands), commands);
  });
}

const moneyOf = (h: Harness): InstrumentMoney => h.rules.money(h.terms);
const sum = (xs: Iterable<bigint>) => [...xs].reduce((a, b) => a + b, 0n);

describe('planBatch properties', () => {
  test('(a) holds are never short, no account goes negative, refused places leave no trace', () => {
    const seen = { fills: 0, codes: new Map<string, number>() };
    fc.assert(
      fc.property(world, (w) => {
        const h = harness(w);
        const everyOrder = new Map<number, LiveOrder>();
        const fills: FillRecord[] = [];
        drive(w, h, (plan, commands) => {
          expect(h.lowest).toBeGreaterThanOrEqual(0n);
          for (const o of plan.orders) everyOrder.set(o.id, o);
          fills.push(...plan.fills);
          seen.fills += plan.fills.length;
          for (const r of plan.results) {
            const key = r instanceof DomainError ? r.code : 'ok';
            seen.codes.set(key, (seen.codes.get(key) ?? 0) + 1);
          }
          // Each place took the next order id; a refused one is in no transfer and no order.
          const places = commands.flatMap((c, i) => (c.kind === 'place' ? [i] : []));
          places.forEach((index, k) => {
            if (!(plan.results[index] instanceof DomainError)) return;
            const id = h.lastOrderIds[k];
            expect(plan.transfers.filter((t) => t.ref === String(id) || t.id.startsWith(`order:${id}:`))).toEqual([]);
            expect(plan.orders.some((o) => o.id === id)).toBe(false);
          });
          const money = moneyOf(h);
          for (const o of h.state.orders.values()) {
            expect(o.status).toBe('open');
            const open = h.rules.openHold(money, o);
            if (h.rules.sellHoldFollowsFill || o.side === 'buy') expect(o.hold).toBe(open);
            else expect(o.hold).toBeGreaterThanOrEqual(open);
          }
          // Each account holds exactly what its orders and fills say.
          for (const p of PARTICIPANTS) {
            const mine = [...everyOrder.values()].filter((o) => o.participantId === p);
            const b = h.balancesOf(p);
            expect(b.held).toBe(sum(mine.filter((o) => o.side === 'buy').map((o) => o.hold)));
            expect(b.bond).toBe(sum(mine.filter((o) => o.side === 'sell').map((o) => o.hold)) + sum(fills.filter((f) => f.sellerId === p).map((f) => f.bond)));
            expect(b.escrow).toBe(sum(fills.filter((f) => f.buyerId === p).map((f) => f.notional)));
          }
        });
      }),
      { numRuns: RUNS },
    );
    if (process.env.PLAN_STATS) console.log(seen);
    // The generator reaches trades and accepted commands, not only refusals.
    expect(seen.fills).toBeGreaterThan(RUNS / 5);
    expect(seen.codes.get('ok') ?? 0).toBeGreaterThan(RUNS);
  });

  test('(b) money is conserved: notional lands in escrow, buyer fees in the fees account', () => {
    fc.assert(
      fc.property(world, (w) => {
        const h = harness(w);
        const start = sum(w.cash);
        let fees = 0n;
        drive(w, h, (plan) => {
          const effects = new Map<bigint, bigint>();
          for (const t of plan.transfers) {
            expect(t.amount!).toBeGreaterThan(0n);
            effects.set(t.debitAccountId!, (effects.get(t.debitAccountId!) ?? 0n) - t.amount!);
            effects.set(t.creditAccountId!, (effects.get(t.creditAccountId!) ?? 0n) + t.amount!);
          }
          expect(sum(effects.values())).toBe(0n);
          expect(sum(h.balances.values())).toBe(start);
          expect(new Set(plan.transfers.map((t) => t.id)).size).toBe(plan.transfers.length);
          for (const f of plan.fills) {
            const buyer = h.accounts.get(f.buyerId)!;
            expect(f.notional).toBe(BigInt(f.priceTicks * f.lots));
            expect(plan.transfers.filter((t) => t.id === `fill:${f.id}:escrow`)).toEqual([
              expect.objectContaining({ debitAccountId: buyer.held, creditAccountId: buyer.escrow, amount: f.notional }),
            ]);
            const fee = plan.transfers.filter((t) => t.creditAccountId === FEES_ACCOUNT && t.ref === f.id);
            expect(sum(fee.map((t) => t.amount!))).toBe(f.buyerFee);
            fees += f.buyerFee;
          }
          expect(plan.transfers.filter((t) => t.creditAccountId === FEES_ACCOUNT).length).toBe(plan.fills.filter((f) => f.buyerFee > 0n).length);
          expect(h.fees()).toBe(fees);
          expect(plan.deliveries).toEqual(h.rules.fillsAreDeliveries ? plan.fills : []);
        });
      }),
      { numRuns: RUNS },
    );
  });

  test('(c) the fast and the reference books give the same plan', () => {
    const normal = (plan: BatchPlan) => ({
      ...plan,
      results: plan.results.map((r) => (r instanceof DomainError ? { error: r.code, message: r.message } : r)),
    });
    fc.assert(
      fc.property(world, (w) => {
        const fast = harness(w);
        const plans: unknown[] = [];
        drive(w, fast, (plan) => plans.push(structuredClone(normal(plan))));
        const reference = harness(w, true);
        let i = 0;
        drive(w, reference, (plan) => expect(structuredClone(normal(plan))).toEqual(plans[i++]));
        expect(reference.balances).toEqual(fast.balances);
      }),
      { numRuns: RUNS },
    );
  });
});
