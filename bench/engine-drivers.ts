// The engines the benchmark compares, each behind the same three operations, so that one
// measuring loop drives both with the same workload.

import { createRequire } from 'node:module';
import nodejsOrderBook, { type LimitOrderOptions } from 'nodejs-order-book';
import { FastOrderBook } from '../src/matching/fast/fast-order-book.js';
import { Op, tokexCommand, type Workload } from './engine-workload.js';

export interface Depth {
  readonly bids: readonly (readonly [number, number])[];
  readonly asks: readonly (readonly [number, number])[];
}

export interface EngineDriver<Engine> {
  readonly name: string;
  /** A new, empty engine; may precompute what mapping the workload onto its API needs. */
  create(workload: Workload): Engine;
  /** Applies command i. The engine's result is dropped: a caller would read it, at its own cost. */
  apply(engine: Engine, workload: Workload, i: number): void;
  /** The book as [price, quantity] levels, best first, to check two engines ended alike. */
  depth(engine: Engine): Depth;
}

export const tokexDriver: EngineDriver<FastOrderBook> = {
  name: 'tokex FastOrderBook',
  create: () => new FastOrderBook(),
  apply: (book, workload, i) => {
    book.execute(tokexCommand(workload, i, i + 1));
  },
  depth: (book) => ({
    bids: book.depth('buy').map((level) => [level.priceTicks, level.quantity] as const),
    asks: book.depth('sell').map((level) => [level.priceTicks, level.quantity] as const),
  }),
};

const { OrderBook, Side } = nodejsOrderBook;
// nodejs-order-book does not export its TimeInForce enum; its values are these strings.
const GTC = 'GTC' as LimitOrderOptions['timeInForce'];
const IOC = 'IOC' as LimitOrderOptions['timeInForce'];

interface NodejsOrderBookEngine {
  readonly book: InstanceType<typeof OrderBook>;
  /** Its order ids are strings: made once, before timing, so neither engine pays for conversion. */
  readonly ids: readonly string[];
}

export const nodejsOrderBookDriver: EngineDriver<NodejsOrderBookEngine> = {
  name: `nodejs-order-book ${createRequire(import.meta.url)('nodejs-order-book/package.json').version}`,
  create: (workload) => {
    let maxOrderId = 0;
    for (let i = 0; i < workload.size; i++) maxOrderId = Math.max(maxOrderId, workload.orderId[i]);
    return { book: new OrderBook(), ids: Array.from({ length: maxOrderId + 1 }, (_, id) => String(id)) };
  },
  apply: ({ book, ids }, workload, i) => {
    const id = ids[workload.orderId[i]];
    switch (workload.op[i]) {
      case Op.GTC:
      case Op.IOC:
        book.limit({
          id,
          side: workload.buy[i] === 1 ? Side.BUY : Side.SELL,
          size: workload.quantity[i],
          price: workload.priceTicks[i],
          timeInForce: workload.op[i] === Op.GTC ? GTC : IOC,
        });
        break;
      case Op.AMEND_PRICE:
        // Like tokex's amend, modify re-queues the order at the new price and matches it if it crosses.
        book.modify(id, { price: workload.priceTicks[i] });
        break;
      default:
        book.cancel(id);
    }
  },
  depth: ({ book }) => {
    const [asks, bids] = book.depth();
    return { bids, asks };
  },
};
