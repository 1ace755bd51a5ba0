// The benchmark workload: exchange-core's published single-instrument mix (82 % move order,
// 9 % GTC limit, 6 % cancel, 3 % IOC; about 1,000 resting orders over about 750 price levels),
// generated once from a seeded PRNG into typed arrays so that every engine replays the same
// commands. Like exchange-core's TestOrdersGenerator, the generator runs a book as it goes so
// that amends and cancels always name live orders; it uses FastOrderBook for that, and the
// benchmark checks that nodejs-order-book ends with the same book.

import type { Command } from '../src/matching/commands.js';
import { FastOrderBook } from '../src/matching/fast/fast-order-book.js';

export const Op = { GTC: 0, IOC: 1, AMEND_PRICE: 2, CANCEL: 3 } as const;
export type Op = (typeof Op)[keyof typeof Op];
export const OP_NAMES = ['GTC limit', 'IOC limit', 'amend price', 'cancel'] as const;

export interface WorkloadOptions {
  /** Commands timed. */
  readonly measured: number;
  /** Commands of the same mix run before timing starts, after the book is filled. */
  readonly warmup: number;
  readonly seed: number;
}

/** Command i is column[i] of each typed array. */
export interface WorkloadColumns {
  readonly op: Uint8Array;
  readonly buy: Uint8Array;
  readonly orderId: Int32Array;
  readonly priceTicks: Int32Array;
  readonly quantity: Int32Array;
  readonly owner: Uint16Array;
  /** Participant UUIDs; buyers and sellers are different people, so no order can self-trade. */
  readonly owners: readonly string[];
}

/** Commands before `measuredFrom` fill the book and warm up; the rest are timed. */
export interface Workload extends WorkloadColumns {
  readonly size: number;
  readonly measuredFrom: number;
  readonly stats: WorkloadStats;
}

export interface WorkloadStats {
  /** Share of each Op in the measured commands, in percent. */
  readonly mixPercent: readonly number[];
  readonly averageRestingOrders: number;
  readonly averagePriceLevels: number;
  /** Share of measured commands that traded, in percent. */
  readonly tradingCommandsPercent: number;
  readonly trades: number;
}

const TARGET_ORDERS = 1_000;
const START_PRICE = 100_000; // 100 USD per million tokens, in 0.001 USD ticks
const PRICE_DEVIATION = 6_000; // ticks: with the moves below, ~1,000 orders settle over ~750 levels
const FAR_PRICE_OFFSET = 50_000; // IOC limits far enough to never bind
const BUYERS = 500;
const SELLERS = 500;
const STATS_EVERY = 4_096;

/** mulberry32: a small, fast, seeded PRNG; uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The workload's command i in the engine's own terms. */
export function tokexCommand(w: WorkloadColumns, i: number, seq: number): Command {
  const orderId = w.orderId[i];
  const owner = w.owners[w.owner[i]];
  const timestamp = 1_700_000_000_000 + i;
  switch (w.op[i]) {
    case Op.GTC:
    case Op.IOC:
      return {
        type: 'place', seq, timestamp, orderId, owner, side: w.buy[i] === 1 ? 'buy' : 'sell', orderType: 'limit',
        priceTicks: w.priceTicks[i], quantity: w.quantity[i], timeInForce: w.op[i] === Op.GTC ? 'GTC' : 'IOC',
      };
    case Op.AMEND_PRICE:
      return { type: 'amend', seq, timestamp, orderId, owner, priceTicks: w.priceTicks[i] };
    default:
      return { type: 'cancel', seq, timestamp, orderId, owner };
  }
}

export function generateWorkload(options: WorkloadOptions): Workload {
  const random = mulberry32(options.seed);
  const below = (n: number) => Math.floor(random() * n);
  const orderSize = () => 1 + below(6) * below(6) * below(6);
  // The first TARGET_ORDERS commands are GTC orders that build the book; the mix follows.
  const capacity = TARGET_ORDERS + options.warmup + options.measured;
  const w: WorkloadColumns = {
    op: new Uint8Array(capacity),
    buy: new Uint8Array(capacity),
    orderId: new Int32Array(capacity),
    priceTicks: new Int32Array(capacity),
    quantity: new Int32Array(capacity),
    owner: new Uint16Array(capacity),
    owners: Array.from({ length: BUYERS + SELLERS }, () => uuid(random)),
  };
  const live = new LiveOrders();
  const book = new FastOrderBook();
  let lastTradePrice = START_PRICE;
  let nextOrderId = 1;
  const measuredOps = [0, 0, 0, 0];
  let tradingCommands = 0;
  let trades = 0;
  let ordersSampled = 0;
  let levelsSampled = 0;
  let samples = 0;

  const restingPrice = (buy: boolean) => {
    // exchange-core's placement: a triangular offset of random width, on the order's own side
    // of the last trade.
    const width = 1 + Math.floor(random() * random() * PRICE_DEVIATION);
    const offset = Math.abs(Math.floor(((below(width) + below(width) + below(width) + below(width)) / 4) * 2 - width));
    return Math.max(1, buy ? lastTradePrice - offset : lastTradePrice + offset);
  };

  const measuredFrom = TARGET_ORDERS + options.warmup;
  for (let i = 0; i < capacity; i++) {
    const filling = i < TARGET_ORDERS;
    const draw = random();
    const op: Op = filling || live.size === 0 ? Op.GTC : draw < 0.82 ? Op.AMEND_PRICE : draw < 0.91 ? Op.GTC : draw < 0.97 ? Op.CANCEL : Op.IOC;
    w.op[i] = op;
    if (op === Op.GTC || op === Op.IOC) {
      // New resting orders go to the shallower side, so both stay about equally deep.
      const buy = op === Op.GTC ? live.buys * 2 < live.size || (live.buys * 2 === live.size && random() < 0.5) : random() < 0.5;
      w.buy[i] = buy ? 1 : 0;
      w.orderId[i] = nextOrderId++;
      w.owner[i] = buy ? below(BUYERS) : BUYERS + below(SELLERS);
      if (op === Op.GTC) {
        w.priceTicks[i] = restingPrice(buy);
        w.quantity[i] = orderSize();
      } else {
        w.priceTicks[i] = Math.max(1, lastTradePrice + (buy ? FAR_PRICE_OFFSET : -FAR_PRICE_OFFSET));
        // Small while the book is below its target depth, the whole best level while above:
        // this is what holds the book near its target.
        const best = live.size > TARGET_ORDERS ? book.depth(buy ? 'sell' : 'buy', 1)[0]?.quantity : undefined;
        w.quantity[i] = best ?? 1 + below(6) * below(6);
      }
    } else {
      const order = live.pick(below(live.size));
      w.orderId[i] = order.orderId;
      w.buy[i] = order.buy ? 1 : 0;
      w.owner[i] = order.owner;
      if (op === Op.AMEND_PRICE) {
        // exchange-core's move: 1 % of the way to the last trade price, at least one tick.
        const move = (lastTradePrice - order.priceTicks) * 0.01;
        const step = order.priceTicks > lastTradePrice ? Math.floor(move) : order.priceTicks < lastTradePrice ? Math.ceil(move) : below(2) * 2 - 1;
        w.priceTicks[i] = Math.max(1, order.priceTicks + step);
      }
    }

    let takerLeft = w.quantity[i];
    let traded = false;
    for (const event of book.execute(tokexCommand(w, i, i + 1))) {
      if (event.type === 'rejected') throw new Error(`workload command ${i} rejected: ${event.code}`);
      if (event.type !== 'trade') continue;
      traded = true;
      lastTradePrice = event.priceTicks;
      if (event.makerRemaining === 0) live.remove(event.makerOrderId);
      takerLeft = event.takerRemaining;
      if (i >= measuredFrom) trades += 1;
    }
    const orderId = w.orderId[i];
    if (op === Op.GTC && takerLeft > 0) live.add({ orderId, buy: w.buy[i] === 1, priceTicks: w.priceTicks[i], owner: w.owner[i] });
    else if (op === Op.CANCEL || (op === Op.AMEND_PRICE && traded && takerLeft === 0)) live.remove(orderId);
    else if (op === Op.AMEND_PRICE) live.reprice(orderId, w.priceTicks[i]);

    if (i >= measuredFrom) {
      measuredOps[op] += 1;
      if (traded) tradingCommands += 1;
      if ((i - measuredFrom) % STATS_EVERY === 0) {
        samples += 1;
        ordersSampled += live.size;
        levelsSampled += book.depth('buy').length + book.depth('sell').length;
      }
    }
  }

  return {
    ...w,
    size: capacity,
    measuredFrom,
    stats: {
      mixPercent: measuredOps.map((count) => (count * 100) / options.measured),
      averageRestingOrders: ordersSampled / samples,
      averagePriceLevels: levelsSampled / samples,
      tradingCommandsPercent: (tradingCommands * 100) / options.measured,
      trades,
    },
  };
}

interface LiveOrder {
  readonly orderId: number;
  readonly buy: boolean;
  priceTicks: number;
  readonly owner: number;
}

/** The generator's view of the resting orders: uniform random pick and removal in O(1). */
class LiveOrders {
  buys = 0;
  private readonly orders: LiveOrder[] = [];
  private readonly slots = new Map<number, number>();

  get size(): number {
    return this.orders.length;
  }

  pick(slot: number): LiveOrder {
    return this.orders[slot];
  }

  add(order: LiveOrder): void {
    this.slots.set(order.orderId, this.orders.length);
    this.orders.push(order);
    if (order.buy) this.buys += 1;
  }

  reprice(orderId: number, priceTicks: number): void {
    this.orders[this.slots.get(orderId) as number].priceTicks = priceTicks;
  }

  remove(orderId: number): void {
    const slot = this.slots.get(orderId);
    if (slot === undefined) return;
    const removed = this.orders[slot];
    const last = this.orders.pop() as LiveOrder;
    if (last !== removed) {
      this.orders[slot] = last;
      this.slots.set(last.orderId, slot);
    }
    this.slots.delete(orderId);
    if (removed.buy) this.buys -= 1;
  }
}

function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}
