import type { StreamMessage } from './market-stream.js';
import { priceToTicks } from './decimal.js';

type Level = { price: string; quantity: number };

/**
 * One book as the stream shows it: a `snapshot`, then `delta`s that carry each changed level's new
 * absolute quantity (0: gone). A delta whose `previousSeq` is not the last applied `seq` means a
 * message was lost; `stale` is then true until the next snapshot (the caller subscribes again).
 */
export class OrderBookView {
  private readonly bids = new Map<string, number>();
  private readonly asks = new Map<string, number>();
  private seq = -1;
  stale = true;

  apply(message: StreamMessage): void {
    if (message.channel !== 'book') return;
    const seq = Number(message.seq);
    if (message.type === 'snapshot') {
      this.bids.clear();
      this.asks.clear();
      this.stale = false;
    } else if (seq <= this.seq) {
      return;
    } else if (Number(message.previousSeq) !== this.seq) {
      this.stale = true;
      return;
    }
    for (const [side, levels] of [[this.bids, message.bids], [this.asks, message.asks]] as const) {
      for (const level of (levels ?? []) as Level[]) {
        if (level.quantity === 0) side.delete(level.price);
        else side.set(level.price, level.quantity);
      }
    }
    this.seq = seq;
  }

  bestAsk(): Level | undefined {
    return best(this.asks, (a, b) => a < b);
  }

  bestBid(): Level | undefined {
    return best(this.bids, (a, b) => a > b);
  }
}

function best(side: Map<string, number>, better: (a: number, b: number) => boolean): Level | undefined {
  let top: Level | undefined;
  for (const [price, quantity] of side) if (!top || better(priceToTicks(price), priceToTicks(top.price))) top = { price, quantity };
  return top;
}
