import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { upcomingWeek } from '../support/forward-fixtures.js';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { meteredDelivery, postUsageBatch, usageRecord } from '../support/metering-fixtures.js';
import { bearer, countRows, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// Issue 14, item 2: inputs that were a 500 (PostgreSQL refused what the API let through) are a 400
// or 422 naming the field, and change nothing.
let t: TestApp;
let everyone: TestParticipant;
let market: { symbol: string; modelClassId: string };
let forward: string;

beforeAll(async () => {
  t = await startTestApp();
  market = await listSpotInstrument(t, 'bi');
  everyone = await createParticipant(t, ['buyer', 'provider', 'admin']);
  forward = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId: market.modelClassId, kind: 'forward', deliveryPeriod: upcomingWeek().period }).expect(201)).body.symbol;
});
afterAll(async () => {
  await t.close();
});

const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

/** Every GET of the OpenAPI document that takes ?cursor=, with its path parameters filled in. */
async function pagedLists(): Promise<string[]> {
  const document = (await t.http.get('/docs-json').expect(200)).body as { paths: Record<string, { get?: { parameters?: Array<{ name: string; in: string; required?: boolean }> } }> };
  const valueOf = (name: string) => (name === 'id' || name === 'participantId' ? everyone.id : name === 'modelClass' ? market.modelClassId : market.symbol);
  const forwardOf = (path: string) => path.replace('/v1/forwards/{symbol}', `/v1/forwards/${forward}`);
  return Object.entries(document.paths)
    .filter(([, item]) => item.get?.parameters?.some((p) => p.name === 'cursor'))
    .map(([path, item]) => {
      const required = (item.get!.parameters ?? []).filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=${encodeURIComponent(valueOf(p.name))}`);
      return forwardOf(path).replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(valueOf(name))) + (required.length ? `?${required.join('&')}&` : '?');
    });
}

describe('a forged or foreign cursor is a 400 naming the cursor', () => {
  test('on every paged list', async () => {
    const lists = await pagedLists();
    expect(lists.length).toBeGreaterThanOrEqual(18);
    // ["x","y"] fits no list; the others fit some lists' shapes (then they page from there: 200).
    const forged = [
      'WyJ4IiwieSJd',
      cursorOf(['2026-01-01 00:00:00+00', 'not-a-uuid']),
      cursorOf(['2026-02-31 00:00:00+00', randomUUID()]),
      cursorOf(['0000-01-01 00:00:00+00', 'A']),
      cursorOf(['99999999999999999999']),
      cursorOf([-1]),
      cursorOf([1.5, 2]),
      cursorOf(['a\u0000b', randomUUID()]),
      cursorOf(['1999-13-01']),
      cursorOf([{}]),
    ];
    const failures: string[] = [];
    for (const list of lists) {
      for (const cursor of forged) {
        const response = await t.http.get(`${list}cursor=${cursor}`).set(bearer(everyone.key));
        const refused = response.status === 400 && response.body.code === 'INVALID_CURSOR' && /cursor/.test(response.body.message);
        if (!refused && !(response.status === 200 && cursor !== forged[0])) {
          failures.push(`${list} ${Buffer.from(cursor, 'base64url').toString()}: ${response.status} ${response.body.code}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  test('a cursor a list returned still pages it', async () => {
    await listSpotInstrument(t, 'bj');
    const first = await t.http.get('/v1/instruments?limit=1').expect(200);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.http.get(`/v1/instruments?limit=1&cursor=${first.body.nextCursor}`).expect(200);
    expect(second.body.items[0].symbol).not.toBe(first.body.items[0].symbol);
  });
});

describe('text PostgreSQL cannot store is a 400 naming the field', () => {
  test.each([
    ['a NUL', 'bad\u0000name', 'must not contain a NUL character'],
    ['a lone high surrogate', 'bad\ud800name', 'must not contain a lone UTF-16 surrogate'],
    ['a lone low surrogate', '\udc00', 'must not contain a lone UTF-16 surrogate'],
  ])('%s in a participant name, a deposit reference, a suspension reason, a query and a path', async (_, text, reason) => {
    const before = await countRows(t, 'participants');
    const created = await t.http.post('/v1/participants').set(bearer(t.adminKey)).send({ name: text, roles: ['buyer'] });
    expect(created.status).toBe(400);
    expect(created.body.message).toBe(`name: ${reason}`);
    expect(created.body.details).toEqual({ fields: ['name'] });
    expect(await countRows(t, 'participants')).toBe(before);

    const depositAnswer = await t.http.post('/v1/admin/deposits').set(bearer(t.adminKey)).send({ participantId: everyone.id, amount: '1', reference: text });
    expect([depositAnswer.status, depositAnswer.body.message]).toEqual([400, `reference: ${reason}`]);
    const suspended = await t.http.post(`/v1/admin/participants/${everyone.id}/suspend`).set(bearer(t.adminKey)).send({ reason: text });
    expect([suspended.status, suspended.body.message]).toEqual([400, `reason: ${reason}`]);
    const nested = await t.http.post('/v1/metering/buyer-reports').set(bearer(everyone.key)).send({ deliveryId: randomUUID(), records: [{ requestId: text, promptTokens: 1, completionTokens: 1 }] });
    expect([nested.status, nested.body.message]).toEqual([400, `records[0].requestId: ${reason}`]);
  });

  test('a NUL in a query parameter and a path parameter', async () => {
    const query = await t.http.get('/v1/instruments?kind=spot%00');
    expect([query.status, query.body.message]).toEqual([400, 'kind: must not contain a NUL character']);
    const path = await t.http.get('/v1/instruments/AB%00C');
    expect([path.status, path.body.message]).toEqual([400, 'symbol: must not contain a NUL character']);
  });

  test('a NUL in a signed usage record id refuses the record; a lone surrogate in its batch id, the batch', async () => {
    const delivery = await meteredDelivery(t, market);
    const record = usageRecord(market.modelClassId, delivery.deliveryId, delivery.keyId, { requestId: 'req\u0000uest' });
    const answer = await postUsageBatch(t, delivery.node, [record, usageRecord(market.modelClassId, delivery.deliveryId, delivery.keyId)]).expect(202);
    expect(answer.body.rejected).toEqual([expect.objectContaining({ index: 0, reason: 'requestId must not contain a NUL character or a lone UTF-16 surrogate' })]);
    const batch = await postUsageBatch(t, delivery.node, [usageRecord(market.modelClassId, delivery.deliveryId, delivery.keyId)], 'batch\ud800');
    expect([batch.status, batch.body.message]).toEqual([400, 'batchId must not contain a NUL character or a lone UTF-16 surrogate']);
  });
});

describe('values the API let through and PostgreSQL refused', () => {
  test('PATCH /v1/orders/:id with "price": null is a 400 naming price', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    await t.http.post('/v1/admin/deposits').set(bearer(t.adminKey)).send({ participantId: buyer.id, amount: '100' }).expect(201);
    const order = await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: market.symbol, side: 'buy', type: 'limit', price: '0.100', quantity: 1000 }).expect(201);
    const answer = await t.http.patch(`/v1/orders/${order.body.id}`).set(bearer(buyer.key)).send({ price: null });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/^price: must not be null/);
    const still = await t.http.get(`/v1/orders/${order.body.id}`).set(bearer(buyer.key)).expect(200);
    expect(still.body.price).toBe('0.100');
  });

  test('a usage record that starts in year 0 is rejected, naming startedAt', async () => {
    const delivery = await meteredDelivery(t, market);
    const record = usageRecord(market.modelClassId, delivery.deliveryId, delivery.keyId, { startedAt: '0000-01-01T00:00:00Z' });
    const feb31 = usageRecord(market.modelClassId, delivery.deliveryId, delivery.keyId, { finishedAt: '2026-02-31T00:00:00Z' });
    const answer = await postUsageBatch(t, delivery.node, [record, feb31]).expect(202);
    expect(answer.body.rejected).toEqual([
      expect.objectContaining({ index: 0, reason: expect.stringMatching(/^startedAt/) }),
      expect.objectContaining({ index: 1, reason: expect.stringMatching(/finishedAt/) }),
    ]);
  });

  test('a deposit that would overflow an account is a 422 and moves nothing', async () => {
    const rich = await createParticipant(t, ['buyer']);
    const max = '1000000000000';
    let status = 201;
    let answer: { status: number; body: { code?: string; message?: string } } | undefined;
    for (let i = 0; i < 12 && status === 201; i++) {
      answer = await t.http.post('/v1/admin/deposits').set(bearer(t.adminKey)).send({ participantId: rich.id, amount: max });
      status = answer.status;
    }
    expect(answer!.status).toBe(422);
    expect(answer!.body.code).toBe('BALANCE_OVERFLOW');
    expect(answer!.body.message).toMatch(/^amount /);
  });
});
