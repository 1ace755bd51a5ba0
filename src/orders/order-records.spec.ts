import { describe, expect, test } from '@jest/globals';
import { liveOrderOfRow, type OrderRecord, restingOrderOf, toLiveOrder } from './order-records.js';

const record = (over: Partial<OrderRecord> = {}): OrderRecord => ({
  id: '41',
  participant_id: '7b0c5c1e-1f6a-4a51-9d3f-0d2d7b5f1a10',
  instrument: 'LLAMA3-70B-SPOT',
  client_order_id: null,
  side: 'buy',
  type: 'limit',
  time_in_force: 'GTC',
  price_ticks: '500',
  quantity_lots: '10',
  filled_lots: '0',
  status: 'open',
  close_reason: null,
  post_only: false,
  self_trade_prevention: 'cancel_taker',
  expires_at: null,
  hold_micros: '5005000',
  taker_notional_micros: '0',
  maker_notional_micros: '0',
  fees_micros: '0',
  accepted_seq: '12',
  priority_seq: '12',
  created_at: new Date('2026-12-04T12:00:00Z'),
  ...over,
});

describe('an order rebuilt from its row', () => {
  test('keeps every figure exactly, beyond 2^53 too', () => {
    const order = toLiveOrder(record({ hold_micros: '9007199254740993', taker_notional_micros: '12345', fees_micros: '17', filled_lots: '3' }));
    expect(order).toMatchObject({ id: 41, priceTicks: 500, quantity: 10, filled: 3, hold: 9007199254740993n, feesPaid: 17n, acceptedSeq: 12 });
    expect(order.fees).toEqual({ takerNotional: 12345n, makerNotional: 0n });
  });

  test('orders that filled nothing share one fee state, which nothing can change in place', () => {
    const [a, b] = [toLiveOrder(record({ id: '1' })), toLiveOrder(record({ id: '2' }))];
    expect(a.fees).toBe(b.fees);
    expect(a.fees).toEqual({ takerNotional: 0n, makerNotional: 0n });
    expect(Object.isFrozen(a.fees)).toBe(true);
    expect(toLiveOrder(record({ maker_notional_micros: '5' })).fees).not.toBe(a.fees);
  });
});

describe("an order rebuilt from a book load's line", () => {
  const line = '41 7b0c5c1e-1f6a-4a51-9d3f-0d2d7b5f1a10 buy limit GTC 500 10 3 open t cancel_taker - 9007199254740993 12345 0 17 12 12 1796385600000';
  const gtdLine = line.replace(' - ', ' 1796389200000 ').replace(' GTC ', ' GTD ').replace(' t ', ' f ').replace(' buy ', ' sell ').replace('cancel_taker', 'cancel_both');

  test('reads each field as PostgreSQL prints it, and equals the same order read as a row', () => {
    const loaded = liveOrderOfRow([line, 'bot 7', null], 'LLAMA3-70B-SPOT');
    expect(loaded).toEqual(
      toLiveOrder(record({ client_order_id: 'bot 7', post_only: true, filled_lots: '3', hold_micros: '9007199254740993', taker_notional_micros: '12345', fees_micros: '17' })),
    );
    expect(loaded).toMatchObject({ postOnly: true, expiresAt: null, hold: 9007199254740993n, createdAt: new Date('2026-12-04T12:00:00Z') });
    const gtd = liveOrderOfRow([gtdLine, null, null], 'LLAMA3-70B-SPOT');
    expect(gtd).toMatchObject({ side: 'sell', timeInForce: 'GTD', expiresAt: 1796389200000, postOnly: false, stp: 'cancel_both' });
  });

  test("gives the engine the order's resting fields from the front of the line, as the live order has them", () => {
    for (const [text, stp] of [[line, 'cancel_taker'], [gtdLine, 'cancel_both'], [line.replace('cancel_taker', 'cancel_maker'), 'cancel_maker']] as const) {
      const live = liveOrderOfRow([text, null, null], 'LLAMA3-70B-SPOT');
      expect(live.stp).toBe(stp);
      expect(restingOrderOf(text)).toEqual({
        orderId: live.id, owner: live.participantId, side: live.side, priceTicks: live.priceTicks, quantity: live.quantity, remaining: live.quantity - live.filled,
        timeInForce: live.timeInForce, ...(live.expiresAt !== null && { expiresAt: live.expiresAt }), postOnly: live.postOnly, stp: live.stp,
      });
    }
    expect(restingOrderOf(gtdLine)).toMatchObject({ orderId: 41, side: 'sell', remaining: 7, timeInForce: 'GTD', expiresAt: 1796389200000, postOnly: false });
  });
});
