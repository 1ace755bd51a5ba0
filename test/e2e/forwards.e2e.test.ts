import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { fundedBuyer, fundedProvider } from '../support/market-fixtures.js';
import { balancesOf, bearer, createParticipant, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';
import { Clock } from '../../src/platform/clock/clock.js';
import { dayOf, justAfter, upcomingWeek } from '../support/forward-fixtures.js';
import { TestClock } from '../support/test-clock.js';

// Forwards (market-rules §6) over HTTP. A weekly contract on the default grid: tick 0.001 USD/MTok,
// lot 1,000 tokens, so notional in micro-USD = price ticks × lots; maker fee 0, taker fee 10 bps;
// initial margin 20 %, maintenance 10 %, delivery bond 10 %. The contract is the first ISO week
// that can still be traded today; the exchange's clock (marks, expiry) is the test's.
const week = upcomingWeek();
const today = dayOf(new Date());
const clock = new TestClock();
let t: TestApp;
let modelClassId: string;
let symbol: string;

beforeAll(async () => {
  t = await startTestApp();
  t.app.get(Clock).now = () => clock.now();
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  const audit = await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
  expect(audit.body).toMatchObject({ sound: true, trialBalance: { balanced: true } });
});

async function listWeek(): Promise<void> {
  modelClassId = `fwd${randomUUID().slice(0, 8)}-8b`;
  await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 }).expect(201);
  const listed = await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'forward', deliveryPeriod: week.period }).expect(201);
  symbol = listed.body.symbol;
  expect(listed.body).toMatchObject({ lastTradeAt: week.lastTradeAt.toISOString(), initialMarginBps: 2000, maintenanceMarginBps: 1000 });
}

const order = (who: TestParticipant, body: object) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: symbol, ...body });
const get = (who: TestParticipant, path: string) => t.http.get(path).set(bearer(who.key)).expect(200);
const admin = (path: string, body: object = {}) => t.http.post(path).set(bearer(t.adminKey)).send(body);
const marginOf = async (who: TestParticipant) => (await get(who, '/v1/margin')).body.items.find((m: { instrument: string }) => m.instrument === symbol);

describe('a week of 7,000,000 tokens at 2.000, hedged, marked and expired', () => {
  let provider: TestParticipant;
  let buyer: TestParticipant;

  beforeAll(async () => {
    await listWeek();
    provider = await fundedProvider(t, modelClassId, { tokensPerSecond: 1_000, cash: '100' });
    buyer = await fundedBuyer(t, '100');
  });

  test('a forward order holds initial margin on the participant and only its fee on the order', async () => {
    // 2,000 ticks × 7,000 lots = 14.000000 USD notional; 20 % = 2.800000; the most fee: 10 bps = 0.014000.
    const sell = await order(provider, { side: 'sell', type: 'limit', price: '2.000', quantity: 7_000_000 }).expect(201);
    expect(sell.body.hold).toBe('0.014000');
    expect(await balancesOf(t, provider)).toMatchObject({ available: '97.186000', held: '0.014000', margin: '2.800000', escrow: '0.000000' });
  });

  test('a trade moves no notional: both sides pay their fee now and hold margin on the position', async () => {
    const buy = await order(buyer, { side: 'buy', type: 'limit', price: '2.000', quantity: 7_000_000 }).expect(201);
    expect(buy.body).toMatchObject({ status: 'filled', fees: '0.014000' });
    // The buyer took: 10 bps of 14 USD. The provider made: 0 bps; its fee hold goes back.
    expect(await balancesOf(t, buyer)).toMatchObject({ available: '97.186000', held: '0.000000', margin: '2.800000', escrow: '0.000000' });
    expect(await balancesOf(t, provider)).toMatchObject({ available: '97.200000', held: '0.000000', margin: '2.800000', bond: '0.000000' });
    const [position] = (await get(buyer, '/v1/positions')).body.items;
    expect(position).toMatchObject({ instrument: symbol, side: 'long', quantity: 7_000_000, averagePrice: '2.000000', margin: '2.800000', marginCall: false });
    expect((await get(provider, '/v1/positions')).body.items[0]).toMatchObject({ side: 'short', quantity: 7_000_000 });
    expect(await marginOf(buyer)).toMatchObject({ position: 7_000_000, equity: '2.800000', initialRequirement: '2.800000', excess: '0.000000', markPrice: null });
  });

  test('only providers go short, and providers buy only to reduce: both refused with REDUCE_ONLY', async () => {
    const sell = await order(buyer, { side: 'sell', type: 'limit', price: '2.100', quantity: 8_000_000 }).expect(422);
    expect(sell.body).toMatchObject({ code: 'REDUCE_ONLY' });
    expect(sell.body.message).toMatch(/only providers may be short/);
    const buy = await order(provider, { side: 'buy', type: 'limit', price: '1.900', quantity: 8_000_000 }).expect(422);
    expect(buy.body).toMatchObject({ code: 'REDUCE_ONLY' });
    // Within the position, both are fine (and need no new margin: the maximum does not rise).
    const reduce = await order(buyer, { side: 'sell', type: 'limit', price: '2.900', quantity: 1_000_000 }).expect(201);
    await t.http.delete(`/v1/orders/${reduce.body.id}`).set(bearer(buyer.key)).expect(200);
    expect(await balancesOf(t, buyer)).toMatchObject({ margin: '2.800000', held: '0.000000' });
  });

  test('a short needs an enabled node, and room on every day of the period', async () => {
    const nodeless = await createParticipant(t, ['provider']);
    await deposit(t, nodeless.id, '100');
    expect((await order(nodeless, { side: 'sell', type: 'limit', price: '2.000', quantity: 7_000 }).expect(422)).body.code).toBe('NO_ACTIVE_NODE');
    // 10 tokens/s is 864,000 tokens a day; 7,000,000 over 7 days is 1,000,000 a day.
    const small = await fundedProvider(t, modelClassId, { tokensPerSecond: 10 });
    const refused = await order(small, { side: 'sell', type: 'limit', price: '2.000', quantity: 7_000_000 }).expect(422);
    expect(refused.body.code).toBe('CAPACITY_EXCEEDED');
    expect(refused.body.message).toContain(week.days[0]);
    await order(small, { side: 'sell', type: 'limit', price: '9.000', quantity: 6_048_000 }).expect(201); // 864,000 a day: fits exactly
  });

  test('a mark the short cannot meet: it pays from margin then cash, its growing orders are cancelled, it is called', async () => {
    const resting = await order(provider, { side: 'sell', type: 'limit', price: '3.000', quantity: 1_000_000 }).expect(201);
    // The maximum rises to 14 + 3 = 17 USD: 20 % is 3.400000, so 0.600000 more margin.
    expect(await balancesOf(t, provider)).toMatchObject({ margin: '3.400000' });
    clock.set(justAfter(today));
    const mark = await admin(`/v1/admin/forwards/${symbol}/marks`, { price: '2.500', reason: 'test: the week repriced' }).expect(200);
    expect(mark.body).toMatchObject({ day: today, price: '2.500', source: 'override', previousPrice: null });
    // Variation: (2,500 − 2,000) × 7,000 = 3,500,000 micro-USD from the short to the long.
    expect(await balancesOf(t, buyer)).toMatchObject({ margin: '6.300000' });
    expect(await balancesOf(t, provider)).toMatchObject({ margin: '0.000000', available: '96.500000' });
    const cancelled = await t.http.get(`/v1/orders/${resting.body.id}`).set(bearer(provider.key)).expect(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    const calls = await t.http.get('/v1/admin/margin-calls').set(bearer(t.adminKey)).expect(200);
    expect(calls.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ instrument: symbol, participantId: provider.id, event: 'open', day: today })]));
    expect(await marginOf(provider)).toMatchObject({ equity: '0.000000', initialRequirement: '3.500000', maintenanceRequirement: '1.750000', marginCall: true });
    const grow = await order(provider, { side: 'sell', type: 'limit', price: '3.000', quantity: 1_000 }).expect(422);
    expect(grow.body.code).toBe('MARGIN_CALL');
    // The same day again moves nothing.
    await admin(`/v1/admin/forwards/${symbol}/marks`, { day: today }).expect(200);
    expect(await balancesOf(t, buyer)).toMatchObject({ margin: '6.300000' });
  });

  test('a mark is taken once per day, in order, for days that ended while the contract traded', async () => {
    const refused = async (body: object, status: number, code: string) => expect((await admin(`/v1/admin/forwards/${symbol}/marks`, body).expect(status)).body.code).toBe(code);
    await refused({ day: '2026-02-31' }, 400, 'VALIDATION_FAILED'); // not a date
    await refused({ day: '2020-01-01' }, 400, 'VALIDATION_FAILED'); // before the listing
    await refused({ day: dayOf(new Date(Date.now() + 86_400_000)) }, 400, 'VALIDATION_FAILED'); // not ended
    await refused({ day: today, price: '9.000', reason: 'too late' }, 409, 'MARK_EXISTS'); // its variation margin moved
    await refused({ price: '9.000' }, 400, 'VALIDATION_FAILED'); // an override needs a reason
    expect((await t.http.post(`/v1/admin/forwards/${symbol}/marks`).set(bearer(provider.key)).send({}).expect(403)).body.code).toBeDefined();
  });

  test('a top-up back to initial margin cures the call', async () => {
    const key = randomUUID();
    const topUp = () => t.http.post(`/v1/margin/${symbol}/top-up`).set(bearer(provider.key)).set('Idempotency-Key', key).send({ amount: '3.500000' });
    expect((await topUp().expect(200)).body).toMatchObject({ margin: '3.500000', cured: true });
    expect((await topUp().expect(200)).body).toMatchObject({ margin: '3.500000' }); // the same key moves nothing twice
    expect(await balancesOf(t, provider)).toMatchObject({ margin: '3.500000', available: '93.000000' });
    expect(await marginOf(provider)).toMatchObject({ marginCall: false, excess: '0.000000' });
  });

  test('the marks are public, newest first, with their inputs', async () => {
    const marks = await t.http.get(`/v1/forwards/${symbol}/marks`).expect(200);
    expect(marks.body.items).toEqual([expect.objectContaining({ day: today, price: '2.500', source: 'override', inputs: expect.objectContaining({ overrideReason: 'test: the week repriced' }) })]);
  });

  test('expiry: the final mark settles, the long funds escrow, one delivery a day from short to long', async () => {
    await admin(`/v1/admin/forwards/${symbol}/expire`).expect(422); // before its last trade
    clock.set(new Date(week.lastTradeAt.getTime() + 1_000));
    const expired = await admin(`/v1/admin/forwards/${symbol}/expire`).expect(200);
    expect(expired.body).toMatchObject({ settlementPrice: '2.500', deliveries: 7, repeated: false });
    // 7 × 1,000 lots at 2.500: 17.500000 in escrow, 6.300000 of it from margin. The short's bond,
    // 10 % of each day's 2.500000, comes from its margin; the rest of its margin goes back.
    expect(await balancesOf(t, buyer)).toMatchObject({ escrow: '17.500000', margin: '0.000000', available: '85.986000' });
    expect(await balancesOf(t, provider)).toMatchObject({ bond: '1.750000', margin: '0.000000', available: '94.750000' });
    const deliveries = (await get(buyer, '/v1/deliveries')).body.items.filter((d: { instrument: string }) => d.instrument === symbol);
    expect(deliveries).toHaveLength(7);
    expect(deliveries.map((d: { windowStart: string }) => d.windowStart).sort()).toEqual(week.days.map((day) => `${day}T00:00:00.000Z`));
    expect(deliveries[0]).toMatchObject({ ordered: 1_000_000, price: '2.500', notional: '2.500000', providerId: provider.id });
    expect((await get(buyer, '/v1/positions')).body.items).toEqual([]);
    const again = await admin(`/v1/admin/forwards/${symbol}/expire`).expect(200);
    expect(again.body).toMatchObject({ repeated: true, deliveries: 0 });
  });
});

describe('a short who cannot pay: its margin, its cash, the insurance fund, then the winners are cut', () => {
  // A week further out, so that two days can be marked before its last trade.
  const later = upcomingWeek(new Date(Date.now() + 7 * 86_400_000));
  const tomorrow = dayOf(new Date(Date.now() + 86_400_000));
  let provider: TestParticipant;
  let buyer: TestParticipant;
  let contract: string;
  const insurance = async () => BigInt((await t.http.get('/v1/admin/insurance-fund').set(bearer(t.adminKey)).expect(200)).body.balance.replace('.', ''));
  const events = async () =>
    (await t.http.get('/v1/admin/margin-calls?status=all').set(bearer(t.adminKey)).expect(200)).body.items.filter((e: { instrument: string }) => e.instrument === contract);

  beforeAll(async () => {
    modelClassId = `def${randomUUID().slice(0, 8)}-8b`;
    await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 }).expect(201);
    contract = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'forward', deliveryPeriod: later.period }).expect(201)).body.symbol;
    provider = await fundedProvider(t, modelClassId, { tokensPerSecond: 1_000, cash: '3' });
    buyer = await fundedBuyer(t, '100');
    const on = (who: TestParticipant, side: string) => t.http.post('/v1/orders').set(bearer(who.key)).send({ instrument: contract, side, type: 'limit', price: '2.000', quantity: 7_000_000 }).expect(201);
    await on(provider, 'sell');
    await on(buyer, 'buy');
    // The provider has 2.800000 on margin and 0.200000 of cash left.
    expect(await balancesOf(t, provider)).toMatchObject({ margin: '2.800000', available: '0.200000' });
    await t.http.post('/v1/admin/insurance-fund/deposits').set(bearer(t.adminKey)).send({ amount: '0.500000', reference: 'test' }).expect(201);
  });

  test('the insurance fund pays what the short could not, and the long is paid in full', async () => {
    const fund = await insurance();
    clock.set(justAfter(today));
    await t.http.post(`/v1/admin/forwards/${contract}/marks`).set(bearer(t.adminKey)).send({ day: today, price: '2.500', reason: 'test: a jump' }).expect(200);
    // Owed 3.500000: 2.800000 from margin, 0.200000 from cash, 0.500000 from the insurance fund.
    expect(await balancesOf(t, provider)).toMatchObject({ margin: '0.000000', available: '0.000000' });
    expect(await balancesOf(t, buyer)).toMatchObject({ margin: '6.300000' });
    expect(await insurance()).toBe(fund - 500_000n);
    expect(await events()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ participantId: provider.id, event: 'defaulted', amount: '0.500000', day: today }),
        expect.objectContaining({ participantId: provider.id, event: 'raised', day: today }),
      ]),
    );
  });

  test('with the fund empty too, the winners are cut pro rata, and only what was collected is paid', async () => {
    const fund = await insurance(); // other tests may have left something in it
    clock.set(justAfter(tomorrow));
    await t.http.post(`/v1/admin/forwards/${contract}/marks`).set(bearer(t.adminKey)).send({ day: tomorrow, price: '3.000', reason: 'test: another jump' }).expect(200);
    const owed = 3_500_000n;
    const paid = fund < owed ? fund : owed;
    expect(BigInt((await balancesOf(t, buyer)).margin.replace('.', ''))).toBe(6_300_000n + paid);
    const cut = (await events()).find((e: { event: string; day: string }) => e.event === 'cut' && e.day === tomorrow);
    if (paid < owed) expect(cut).toMatchObject({ participantId: buyer.id, amount: (Number(owed - paid) / 1e6).toFixed(6) });
    const [clearing] = await t.dataSource.query(`SELECT (credits_posted - debits_posted)::text AS balance FROM accounts WHERE participant_id IS NULL AND kind = 'clearing'`);
    expect(clearing.balance).toBe('0');
  });
});

describe('a taker sell fills at the bid, above its limit, and pays its fee there', () => {
  beforeAll(async () => {
    clock.set(new Date()); // the tests above moved it on to the week's expiry
    await listWeek();
  });

  test('its fee is held at the best bid while it takes, so a provider with just enough cash trades', async () => {
    // 1,000,000 tokens: initial margin at its limit 1.800 is 20 % of 1.800000 = 0.360000; its fee at
    // the bid 2.000 is 10 bps of 2.000000 = 0.002000 (at its limit it would be 0.001800).
    const provider = await fundedProvider(t, modelClassId, { tokensPerSecond: 1_000, cash: '0.362' });
    const buyer = await fundedBuyer(t, '100');
    await order(buyer, { side: 'buy', type: 'limit', price: '2.000', quantity: 1_000_000 }).expect(201);
    const sell = await order(provider, { side: 'sell', type: 'limit', price: '1.800', quantity: 1_000_000 }).expect(201);
    expect(sell.body).toMatchObject({ status: 'filled', fees: '0.002000', hold: '0.000000' });
    expect(await balancesOf(t, provider)).toMatchObject({ held: '0.000000', margin: '0.360000', available: '0.000000' });
  });

  test('a sell that rests after taking keeps only the fee at its limit on its open lots', async () => {
    const provider = await fundedProvider(t, modelClassId, { tokensPerSecond: 1_000, cash: '100' });
    const buyer = await fundedBuyer(t, '100');
    await order(buyer, { side: 'buy', type: 'limit', price: '2.100', quantity: 1_000_000 }).expect(201);
    // 1,000 lots take the bid at 2.100 (fee 0.002100); 2,000 rest at 1.900 holding 10 bps of 3.800000.
    const sell = await order(provider, { side: 'sell', type: 'limit', price: '1.900', quantity: 3_000_000 }).expect(201);
    expect(sell.body).toMatchObject({ status: 'open', filledQuantity: 1_000_000, fees: '0.002100', hold: '0.003800' });
    expect(await balancesOf(t, provider)).toMatchObject({ held: '0.003800' });
  });
});
