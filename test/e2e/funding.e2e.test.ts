import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { balancesOf, bearer, countRows, createParticipant, deposit, startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

// Whatever a test did, the ledger stays balanced and equal to a rebuild from its transfers.
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true, mismatches: [], trialBalance: { postedSum: '0.000000', pendingSum: '0.000000', balanced: true } });
});

describe('deposits', () => {
  test('an admin deposit credits available cash to the micro-dollar', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    const response = await t.http
      .post('/v1/admin/deposits')
      .set(bearer(t.adminKey))
      .send({ participantId: buyer.id, amount: '1234.567891', reference: 'wire #1' })
      .expect(201);
    expect(response.body).toMatchObject({ participantId: buyer.id, amount: '1234.567891', reference: 'wire #1' });
    await deposit(t, buyer.id, '0.000009');
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '1234.567900', held: '0.000000' });

    const own = await t.http.get('/v1/deposits').set(bearer(buyer.key)).expect(200);
    expect(own.body.items.map((d: { amount: string }) => d.amount)).toEqual(['0.000009', '1234.567891']);
    const statement = await t.http.get('/v1/ledger/transfers').set(bearer(buyer.key)).expect(200);
    expect(statement.body.items).toEqual([
      expect.objectContaining({ code: 'deposit', account: 'available', amount: '0.000009', phase: 'posted' }),
      expect.objectContaining({ code: 'deposit', account: 'available', amount: '1234.567891', phase: 'posted' }),
    ]);
  });

  test('a deposit to an unknown participant is a 404 and writes nothing', async () => {
    const before = await countRows(t, 'transfers');
    const response = await t.http
      .post('/v1/admin/deposits')
      .set(bearer(t.adminKey))
      .send({ participantId: '00000000-0000-4000-8000-000000000000', amount: '5' })
      .expect(404);
    expect(response.body.code).toBe('PARTICIPANT_NOT_FOUND');
    expect(await countRows(t, 'transfers')).toBe(before);
  });

  test('Idempotency-Key: the same key and body return the first answer; another body is a 409', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    const send = (amount: string, key = 'deposit-key-1') =>
      t.http.post('/v1/admin/deposits').set(bearer(t.adminKey)).set('idempotency-key', key).send({ participantId: buyer.id, amount });
    const first = await send('100').expect(201);
    const again = await send('100').expect(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const other = await send('200').expect(409);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '100.000000' });
    // Concurrent retries of one request still deposit once.
    const racing = await Promise.all(Array.from({ length: 10 }, () => send('7', 'deposit-key-2')));
    expect(racing.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '107.000000' });
  });
});

describe('withdrawals', () => {
  test('a withdrawal holds cash until paid: then it leaves the exchange', async () => {
    const provider = await createParticipant(t, ['provider']);
    await deposit(t, provider.id, '100');
    const requested = await t.http.post('/v1/withdrawals').set(bearer(provider.key)).send({ amount: '40.25' }).expect(201);
    expect(requested.body).toMatchObject({ status: 'pending', amount: '40.250000', participantId: provider.id });
    expect(await balancesOf(t, provider)).toMatchObject({ available: '59.750000', held: '40.250000' });

    const paid = await t.http
      .post(`/v1/admin/withdrawals/${requested.body.id}/paid`)
      .set(bearer(t.adminKey))
      .send({ note: 'wire out #9' })
      .expect(200);
    expect(paid.body).toMatchObject({ status: 'paid', note: 'wire out #9', resolvedAt: expect.any(String) });
    expect(await balancesOf(t, provider)).toMatchObject({ available: '59.750000', held: '0.000000' });
    // The same decision again changes nothing; the other decision is a conflict.
    await t.http.post(`/v1/admin/withdrawals/${requested.body.id}/paid`).set(bearer(t.adminKey)).send({ note: 'again' }).expect(200);
    const reject = await t.http.post(`/v1/admin/withdrawals/${requested.body.id}/rejected`).set(bearer(t.adminKey)).send({ note: 'no' }).expect(409);
    expect(reject.body.code).toBe('WITHDRAWAL_ALREADY_RESOLVED');
    expect(await balancesOf(t, provider)).toMatchObject({ available: '59.750000', held: '0.000000' });
  });

  test('a rejected withdrawal voids the hold: the cash is available again', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    await deposit(t, buyer.id, '10');
    const requested = await t.http.post('/v1/withdrawals').set(bearer(buyer.key)).send({ amount: '10' }).expect(201);
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '0.000000', held: '10.000000' });
    const rejected = await t.http
      .post(`/v1/admin/withdrawals/${requested.body.id}/rejected`)
      .set(bearer(t.adminKey))
      .send({ note: 'account name mismatch' })
      .expect(200);
    expect(rejected.body.status).toBe('rejected');
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '10.000000', held: '0.000000' });
    const mine = await t.http.get(`/v1/withdrawals/${requested.body.id}`).set(bearer(buyer.key)).expect(200);
    expect(mine.body.status).toBe('rejected');
    const pending = await t.http.get('/v1/admin/withdrawals?status=rejected&limit=1000').set(bearer(t.adminKey)).expect(200);
    expect(pending.body.items.map((w: { id: string }) => w.id)).toContain(requested.body.id);
  });

  test('more than the available cash is refused with 422 and leaves nothing behind', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    await deposit(t, buyer.id, '5');
    const before = await countRows(t, 'withdrawals');
    const response = await t.http.post('/v1/withdrawals').set(bearer(buyer.key)).send({ amount: '5.000001' }).expect(422);
    expect(response.body).toMatchObject({ statusCode: 422, code: 'INSUFFICIENT_FUNDS' });
    expect(await countRows(t, 'withdrawals')).toBe(before);
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '5.000000', held: '0.000000' });
  });

  test('50 concurrent withdrawals that together exceed the balance: exactly the affordable ones succeed', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    await deposit(t, buyer.id, '100');
    // 50 requests of 3 USD against 100 USD: 33 fit (99 USD), 17 must be refused.
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => t.http.post('/v1/withdrawals').set(bearer(buyer.key)).send({ amount: '3' })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(33);
    expect(statuses.filter((s) => s === 422)).toHaveLength(17);
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '1.000000', held: '99.000000' });
    const listed = await t.http.get('/v1/withdrawals?status=pending&limit=100').set(bearer(buyer.key)).expect(200);
    expect(listed.body.items).toHaveLength(33);
  });

  test('a withdrawal is replayed by its Idempotency-Key, not repeated', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    await deposit(t, buyer.id, '50');
    const send = (amount: string) => t.http.post('/v1/withdrawals').set(bearer(buyer.key)).set('idempotency-key', 'w-1').send({ amount });
    const first = await send('20').expect(201);
    const again = await send('20').expect(201);
    expect(again.body.id).toBe(first.body.id);
    await send('21').expect(409);
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '30.000000', held: '20.000000' });
    // Keys belong to their participant: another participant may use the same key.
    const other = await createParticipant(t, ['buyer']);
    await deposit(t, other.id, '50');
    await t.http.post('/v1/withdrawals').set(bearer(other.key)).set('idempotency-key', 'w-1').send({ amount: '20' }).expect(201);
  });

  test("another participant's withdrawal is invisible; only admins resolve them", async () => {
    const alice = await createParticipant(t, ['buyer']);
    const bob = await createParticipant(t, ['buyer', 'provider']);
    await deposit(t, alice.id, '10');
    const mine = await t.http.post('/v1/withdrawals').set(bearer(alice.key)).send({ amount: '1' }).expect(201);
    await t.http.get(`/v1/withdrawals/${mine.body.id}`).set(bearer(bob.key)).expect(404);
    await t.http.post(`/v1/admin/withdrawals/${mine.body.id}/paid`).set(bearer(alice.key)).send({ note: 'self-service' }).expect(403);
    await t.http.post(`/v1/admin/withdrawals/00000000-0000-4000-8000-000000000000/paid`).set(bearer(t.adminKey)).send({ note: 'x' }).expect(404);
    const bobs = await t.http.get('/v1/withdrawals').set(bearer(bob.key)).expect(200);
    expect(bobs.body.items).toEqual([]);
  });
});

describe('bad input on money routes: 400 naming the field, nothing written', () => {
  const amounts: Array<[string, unknown]> = [
    ['zero', '0'],
    ['negative', '-5'],
    ['a JSON number', 5],
    ['too many decimals', '1.0000001'],
    ['exponent', '1e3'],
    ['empty', ''],
    ['too large', '1000000000001'],
    ['missing', undefined],
  ];

  test.each(amounts)('withdrawal amount %s', async (_, amount) => {
    const buyer = await createParticipant(t, ['buyer']);
    await deposit(t, buyer.id, '10');
    const before = await countRows(t, 'transfers');
    const response = await t.http.post('/v1/withdrawals').set(bearer(buyer.key)).send({ amount }).expect(400);
    expect(response.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('amount') });
    expect(await countRows(t, 'transfers')).toBe(before);
  });

  test.each(amounts)('deposit amount %s', async (_, amount) => {
    const buyer = await createParticipant(t, ['buyer']);
    const before = await countRows(t, 'deposits');
    const response = await t.http.post('/v1/admin/deposits').set(bearer(t.adminKey)).send({ participantId: buyer.id, amount }).expect(400);
    expect(response.body.message).toContain('amount');
    expect(await countRows(t, 'deposits')).toBe(before);
  });

  test('other fields', async () => {
    const checks: Array<[string, object, string]> = [
      ['/v1/admin/deposits', { participantId: 'abc', amount: '1' }, 'participantId'],
      ['/v1/admin/deposits', { amount: '1' }, 'participantId'],
      ['/v1/admin/deposits', { participantId: '00000000-0000-4000-8000-000000000000', amount: '1', reference: 'x'.repeat(201) }, 'reference'],
      ['/v1/admin/deposits', { participantId: '00000000-0000-4000-8000-000000000000', amount: '1', currency: 'EUR' }, 'currency'],
      ['/v1/withdrawals', { amount: '1', to: 'elsewhere' }, 'to'],
    ];
    for (const [route, body, field] of checks) {
      const response = await t.http.post(route).set(bearer(t.adminKey)).send(body).expect(400);
      expect(response.body.message).toContain(field);
    }
    const note = await t.http.post('/v1/admin/withdrawals/00000000-0000-4000-8000-000000000000/paid').set(bearer(t.adminKey)).send({}).expect(400);
    expect(note.body.message).toContain('note');
    const status = await t.http.get('/v1/admin/withdrawals?status=lost').set(bearer(t.adminKey)).expect(400);
    expect(status.body.message).toContain('status');
    const limit = await t.http.get('/v1/withdrawals?limit=1001').set(bearer(t.adminKey)).expect(400);
    expect(limit.body.message).toContain('limit');
  });

  test('a malformed Idempotency-Key is refused', async () => {
    const response = await t.http.post('/v1/withdrawals').set(bearer(t.adminKey)).set('idempotency-key', 'x'.repeat(256)).send({ amount: '1' }).expect(400);
    expect(response.body.code).toBe('INVALID_IDEMPOTENCY_KEY');
  });
});
