import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { bearer, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 14 item 9: a client that lost an answer finds its order by clientOrderId.
let t: TestApp;
let symbol: string;
let modelClassId: string;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'coid'));
});
afterAll(async () => {
  await t.close();
});

const place = (who: TestParticipant, body: object) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, ...body }).expect(201);

describe('finding orders by clientOrderId', () => {
  test('GET /v1/orders/by-client-id/:id answers the order with its fills; the list filters to it', async () => {
    const b = await fundedBuyer(t, '10');
    const p = await fundedProvider(t, modelClassId);
    await place(b, { side: 'buy', type: 'limit', price: '0.450', quantity: 1_000_000, clientOrderId: 'other-1' });
    await place(b, { side: 'buy', type: 'limit', price: '0.500', quantity: 2_000_000, clientOrderId: 'lost:answer_1' });
    await place(p, { side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 });
    const found = await t.http.get('/v1/orders/by-client-id/lost:answer_1').set(bearer(b.key)).expect(200);
    expect(found.body).toMatchObject({ clientOrderId: 'lost:answer_1', price: '0.500', filledQuantity: 1_000_000, status: 'open' });
    expect(found.body.fills).toHaveLength(1);
    const listed = await t.http.get('/v1/orders?clientOrderId=lost:answer_1').set(bearer(b.key)).expect(200);
    expect(listed.body.items.map((o: { id: string }) => o.id)).toEqual([found.body.id]);
    expect((await t.http.get('/v1/orders?clientOrderId=never-sent').set(bearer(b.key)).expect(200)).body.items).toEqual([]);
    await t.http.get('/v1/orders/by-client-id/never-sent').set(bearer(b.key)).expect(404);
  });

  test("another participant's order is invisible: 404, and an empty list", async () => {
    const owner = await fundedBuyer(t, '10');
    const stranger = await fundedBuyer(t, '10');
    await place(owner, { side: 'buy', type: 'limit', price: '0.400', quantity: 1_000_000, clientOrderId: 'mine-1' });
    const hidden = await t.http.get('/v1/orders/by-client-id/mine-1').set(bearer(stranger.key)).expect(404);
    expect(hidden.body).toMatchObject({ code: 'ORDER_NOT_FOUND' });
    expect((await t.http.get('/v1/orders?clientOrderId=mine-1').set(bearer(stranger.key)).expect(200)).body.items).toEqual([]);
  });

  test('the OpenAPI document has the route and the filter', async () => {
    const document = (await t.http.get('/docs-json').expect(200)).body;
    expect(document.paths['/v1/orders/by-client-id/{clientOrderId}']).toBeDefined();
    expect(document.paths['/v1/orders'].get.parameters.map((p: { name: string }) => p.name)).toContain('clientOrderId');
  });

  test('a malformed clientOrderId is a 400 naming it', async () => {
    const b = await fundedBuyer(t, '10');
    const bad = await t.http.get(`/v1/orders/by-client-id/${'x'.repeat(65)}`).set(bearer(b.key)).expect(400);
    expect(bad.body.message).toMatch(/clientOrderId/);
    const badQuery = await t.http.get('/v1/orders?clientOrderId=a%20b').set(bearer(b.key)).expect(400);
    expect(badQuery.body.message).toMatch(/clientOrderId/);
  });
});
