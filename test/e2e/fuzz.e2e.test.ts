import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { upcomingWeek } from '../support/forward-fixtures.js';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { bearer, createParticipant, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// "A 5xx on any input is a bug": random bodies, fields and parameters on the routes that take
// money and orders must be answered with a 2xx or a 4xx in the standard error shape.
let t: TestApp;
let trader: TestParticipant;
let symbol: string;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol } = await listSpotInstrument(t, 'fz'));
  trader = await createParticipant(t, ['buyer', 'provider']);
  await deposit(t, trader.id, '1000');
});
afterAll(async () => {
  await t.close();
});

const anyValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('0.450', '-1', '1e9', '0.0000001', 'GTD', 'buy', 'sell', 'market', 'limit', '2020-01-01T00:00:00Z', '99999999999999999999'),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);

function orderBody() {
  return fc.record(
    {
      instrument: fc.oneof(fc.constant(symbol), anyValue),
      side: fc.oneof(fc.constantFrom('buy', 'sell'), anyValue),
      type: fc.oneof(fc.constantFrom('limit', 'market'), anyValue),
      quantity: fc.oneof(fc.constantFrom(1000, 1_000_000, 1500, 0, -1000), anyValue),
      price: fc.oneof(fc.constantFrom('0.001', '0.450', '1000000.000', '0.0005'), anyValue),
      timeInForce: fc.oneof(fc.constantFrom('GTC', 'IOC', 'FOK', 'GTD'), anyValue),
      expiresAt: fc.oneof(fc.constant(new Date(Date.now() + 3_600_000).toISOString()), anyValue),
      postOnly: anyValue,
      clientOrderId: anyValue,
      selfTradePrevention: fc.oneof(fc.constantFrom('cancel_taker', 'cancel_maker', 'cancel_both'), anyValue),
      [`x${randomUUID().slice(0, 4)}`]: anyValue,
    },
    { requiredKeys: [] },
  );
}

function expectNoServerError(response: { status: number; body: { code?: unknown; statusCode?: unknown } }) {
  expect(response.status).toBeLessThan(500);
  if (response.status >= 400) expect(response.body).toMatchObject({ statusCode: response.status, code: expect.any(String) });
}

describe('no input makes a 5xx', () => {
  test('POST /v1/orders', async () => {
    await fc.assert(
      fc.asyncProperty(orderBody(), async (body) => {
        expectNoServerError(await t.http.post('/v1/orders').set(bearer(trader.key)).send(body));
      }),
      { numRuns: 150 },
    );
    await t.http.delete('/v1/orders').set(bearer(trader.key)).expect(200);
  });

  test('PATCH, GET and DELETE /v1/orders/:id, and list filters', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 25 }), fc.constantFrom('1', '0', '-1', '99999999999999999999', '1.5')), anyValue, anyValue, async (id, price, quantity) => {
        const path = `/v1/orders/${encodeURIComponent(id) || 'x'}`;
        expectNoServerError(await t.http.patch(path).set(bearer(trader.key)).send({ price, quantity }));
        expectNoServerError(await t.http.get(path).set(bearer(trader.key)));
        expectNoServerError(await t.http.delete(path).set(bearer(trader.key)));
        expectNoServerError(await t.http.get(`/v1/orders?status=${encodeURIComponent(JSON.stringify(price) ?? '')}&limit=${encodeURIComponent(JSON.stringify(quantity) ?? '')}`).set(bearer(trader.key)));
      }),
      { numRuns: 60 },
    );
  });

  test('POST /v1/withdrawals and /v1/admin/deposits', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, async (amount, participantId) => {
        expectNoServerError(await t.http.post('/v1/withdrawals').set(bearer(trader.key)).send({ amount }));
        expectNoServerError(await t.http.post('/v1/admin/deposits').set(bearer(t.adminKey)).send({ participantId, amount }));
      }),
      { numRuns: 100 },
    );
  });

  test('the forward routes: top-ups, marks, expiry and margin calls', async () => {
    const { modelClassId } = await listSpotInstrument(t, 'fzf');
    const forward = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'forward', deliveryPeriod: upcomingWeek().period }).expect(201)).body.symbol;
    const symbolish = fc.oneof(fc.constantFrom(forward, symbol, 'NOPE-2027-01'), fc.string({ maxLength: 20 }));
    const day = fc.oneof(fc.constantFrom('2026-02-31', '1999-01-01', '2099-01-01', '2026-13-01'), anyValue);
    await fc.assert(
      fc.asyncProperty(symbolish, anyValue, day, anyValue, anyValue, async (on, amount, markDay, price, reason) => {
        const path = encodeURIComponent(on) || 'x';
        expectNoServerError(await t.http.post(`/v1/margin/${path}/top-up`).set(bearer(trader.key)).set('Idempotency-Key', randomUUID()).send({ amount }));
        expectNoServerError(await t.http.post(`/v1/admin/forwards/${path}/marks`).set(bearer(t.adminKey)).send({ day: markDay, price, reason }));
        expectNoServerError(await t.http.post(`/v1/admin/forwards/${path}/expire`).set(bearer(t.adminKey)).send({}));
        const text = (value: unknown) => encodeURIComponent(JSON.stringify(value) ?? '');
        expectNoServerError(await t.http.get(`/v1/forwards/${path}/marks?cursor=${text(reason)}&limit=${text(amount)}`));
        expectNoServerError(await t.http.get(`/v1/admin/margin-calls?status=${text(price)}&cursor=${text(markDay)}`).set(bearer(t.adminKey)));
      }),
      { numRuns: 60 },
    );
  });
});
