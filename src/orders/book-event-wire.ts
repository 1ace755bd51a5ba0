import type { CommittedBatch } from './book-events.js';
import type { FillRecord } from './core/batch-money.js';
import type { LiveOrder } from './core/live-order.js';

/**
 * A committed batch as text, for Redis. Written field by field rather than through the generic
 * JSON codec: every process decodes every batch, and a reviver called on each of a batch's
 * thousands of values cost more than the rest of the stream. A bigint field added to an order or a
 * fill and not listed here makes JSON.stringify throw, so it cannot be lost silently.
 */
export function encodeBatch(batch: CommittedBatch): string {
  return JSON.stringify({
    ...batch,
    orders: batch.orders.map((o) => ({
      ...o,
      hold: String(o.hold),
      feesPaid: String(o.feesPaid),
      fees: { takerNotional: String(o.fees.takerNotional), makerNotional: String(o.fees.makerNotional) },
    })),
    fills: batch.fills.map((f) => ({ ...f, notional: String(f.notional), buyerFee: String(f.buyerFee), sellerFee: String(f.sellerFee), bond: String(f.bond) })),
  });
}

type Wire<T> = { -readonly [K in keyof T]: unknown };

export function decodeBatch(text: string): CommittedBatch {
  const batch = JSON.parse(text) as Wire<CommittedBatch> & { orders: Array<Wire<LiveOrder>>; fills: Array<Wire<FillRecord>> };
  for (const o of batch.orders) {
    o.hold = BigInt(o.hold as string);
    o.feesPaid = BigInt(o.feesPaid as string);
    const fees = o.fees as { takerNotional: string; makerNotional: string };
    o.fees = { takerNotional: BigInt(fees.takerNotional), makerNotional: BigInt(fees.makerNotional) };
    o.createdAt = new Date(o.createdAt as string);
  }
  for (const f of batch.fills) {
    f.notional = BigInt(f.notional as string);
    f.buyerFee = BigInt(f.buyerFee as string);
    f.sellerFee = BigInt(f.sellerFee as string);
    f.bond = BigInt(f.bond as string);
    f.createdAt = new Date(f.createdAt as string);
  }
  batch.committedAt = new Date(batch.committedAt as string);
  return batch as unknown as CommittedBatch;
}
