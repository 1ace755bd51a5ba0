import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { CommittedBatch } from './book-events.js';
import { decodeBatch, encodeBatch } from './book-event-wire.js';

const money = fc.bigInt({ min: 0n, max: 2n ** 80n });
const at = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true });
const order = fc.record({
  id: fc.nat(),
  participantId: fc.uuid(),
  instrument: fc.constant('LLAMA-SPOT'),
  clientOrderId: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: null }),
  side: fc.constantFrom('buy' as const, 'sell' as const),
  type: fc.constantFrom('limit' as const, 'market' as const),
  timeInForce: fc.constantFrom('GTC' as const, 'IOC' as const),
  postOnly: fc.boolean(),
  stp: fc.constant('cancel_taker' as const),
  expiresAt: fc.option(fc.nat(), { nil: null }),
  priceTicks: fc.nat(),
  quantity: fc.nat(),
  filled: fc.nat(),
  status: fc.constantFrom('open' as const, 'filled' as const),
  closeReason: fc.option(fc.string(), { nil: null }),
  hold: money,
  fees: fc.record({ takerNotional: money, makerNotional: money }),
  feesPaid: money,
  acceptedSeq: fc.nat(),
  prioritySeq: fc.nat(),
  createdAt: at,
});
const fill = fc.record({
  id: fc.string({ minLength: 1 }),
  seq: fc.nat(),
  makerOrderId: fc.nat(),
  takerOrderId: fc.nat(),
  buyerId: fc.uuid(),
  sellerId: fc.uuid(),
  takerSide: fc.constantFrom('buy' as const, 'sell' as const),
  priceTicks: fc.nat(),
  lots: fc.nat(),
  notional: money,
  buyerFee: money,
  sellerFee: money,
  bond: money,
  createdAt: at,
});
const batch: fc.Arbitrary<CommittedBatch> = fc.record({
  instrument: fc.string(),
  seq: fc.nat(),
  previousSeq: fc.nat(),
  fills: fc.array(fill, { maxLength: 5 }),
  levels: fc.array(fc.record({ side: fc.constantFrom('buy' as const, 'sell' as const), priceTicks: fc.nat(), quantity: fc.nat(), orderCount: fc.nat() }), { maxLength: 5 }),
  orders: fc.array(order, { maxLength: 5 }),
  committedAt: at,
});

describe('committed batches on the wire', () => {
  test('every batch survives a round trip exactly: bigints, dates and all', () => {
    fc.assert(fc.property(batch, (b) => expect(decodeBatch(encodeBatch(b))).toEqual(b)));
  });

  test('a bigint the encoder does not know of fails loudly instead of being lost', () => {
    const b = fc.sample(batch, { numRuns: 1, seed: 1 })[0];
    const withNew = { ...b, orders: [{ ...fc.sample(order, { numRuns: 1, seed: 2 })[0], rebate: 5n }] } as unknown as CommittedBatch;
    expect(() => encodeBatch(withNew)).toThrow(/BigInt/);
  });
});
