import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Clock } from '../../src/platform/clock/clock.js';
import { dayOf, justAfter, upcomingWeek } from '../support/forward-fixtures.js';
import { fundedBuyer, fundedProvider } from '../support/market-fixtures.js';
import { type ConsoleSession, consoleGet, consolePost, signInToConsole } from '../support/ops-console.js';
import { bearer, countRows, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';
import { TestClock } from '../support/test-clock.js';

// The ops console's forwards pages and the admin routes behind them: contracts, every position
// (as its holder's /v1/positions and /v1/margin show it), marks with their inputs, margin calls,
// defaults and the insurance fund; and the actions (run a mark, expire, fund the insurance), each
// audited with the admin's reason. Weekly contracts on the default grid, as in forwards.e2e.
const week = upcomingWeek();
const later = upcomingWeek(new Date(Date.now() + 7 * 86_400_000));
const today = dayOf(new Date());
const clock = new TestClock();
let t: TestApp;
let session: ConsoleSession;
let adminId: string;

const admin = (path: string) => t.http.get(path).set(bearer(t.adminKey));
const audits = (symbol: string, action: string): Promise<Array<{ actor_id: string; details: Record<string, unknown> }>> =>
  t.dataSource.query(`SELECT actor_id, details FROM audit_events WHERE subject_id = $1 AND action = $2 ORDER BY id`, [symbol, action]);
const rowsOf = (html: string, testid: string) => html.split(`data-testid="${testid}"`).length - 1;

async function listForward(period: string): Promise<{ symbol: string; modelClassId: string }> {
  const modelClassId = `ops${randomUUID().slice(0, 8)}-8b`;
  await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 }).expect(201);
  const listed = await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'forward', deliveryPeriod: period }).expect(201);
  return { symbol: listed.body.symbol, modelClassId };
}

const trade = async (symbol: string, provider: TestParticipant, buyer: TestParticipant, quantity = 7_000_000) => {
  await t.http.post('/v1/orders').set(bearer(provider.key)).send({ instrument: symbol, side: 'sell', type: 'limit', price: '2.000', quantity }).expect(201);
  await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: symbol, side: 'buy', type: 'limit', price: '2.000', quantity }).expect(201);
};

beforeAll(async () => {
  t = await startTestApp();
  t.app.get(Clock).now = () => clock.now();
  session = await signInToConsole(t);
  adminId = (await admin('/v1/me').expect(200)).body.id;
});
afterAll(async () => {
  await t.close();
});

test('the contracts page says when no forward is listed, and lists them once one is', async () => {
  const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM instruments WHERE kind = 'forward'`);
  const page = await consoleGet(t, session, '/ops/forwards').expect(200);
  // A fresh database has none (this file lists its own below); one shared with other tests may.
  expect(page.text.includes('data-testid="no-forwards"')).toBe(count === 0);
  expect(page.text.includes('data-testid="forward-contracts"')).toBe(count > 0);
  expect(page.text).toContain('data-testid="insurance-balance"');
});

describe('a traded week: positions, a mark run from the console, margin calls', () => {
  let symbol: string;
  let provider: TestParticipant;
  let buyer: TestParticipant;

  beforeAll(async () => {
    clock.set(new Date());
    const listed = await listForward(week.period);
    symbol = listed.symbol;
    provider = await fundedProvider(t, listed.modelClassId, { tokensPerSecond: 1_000, cash: '100' });
    buyer = await fundedBuyer(t, '100');
    await trade(symbol, provider, buyer);
  });

  test("GET /v1/admin/positions: every holder's position, as its own /v1/positions and /v1/margin show it", async () => {
    const page = await admin(`/v1/admin/positions?instrument=${symbol}`).expect(200);
    expect(page.body.items).toHaveLength(2);
    expect(page.body.nextCursor).toBeNull();
    for (const who of [provider, buyer]) {
      const item = page.body.items.find((p: { participantId: string }) => p.participantId === who.id);
      const own = (await t.http.get('/v1/positions').set(bearer(who.key)).expect(200)).body.items.find((p: { instrument: string }) => p.instrument === symbol);
      const margin = (await t.http.get('/v1/margin').set(bearer(who.key)).expect(200)).body.items.find((p: { instrument: string }) => p.instrument === symbol);
      expect(item).toEqual({ participantId: who.id, participantName: expect.any(String), ...own, ...margin });
    }
    expect(page.body.items.find((p: { participantId: string }) => p.participantId === buyer.id)).toMatchObject({
      side: 'long', quantity: 7_000_000, position: 7_000_000, averagePrice: '2.000000', equity: '2.800000', initialRequirement: '2.800000', excess: '0.000000', marginCall: false,
    });
  });

  test('GET /v1/admin/positions filters by participant, pages with a cursor, and refuses what it cannot answer', async () => {
    const mine = await admin(`/v1/admin/positions?participant=${provider.id}`).expect(200);
    expect(mine.body.items).toEqual([expect.objectContaining({ instrument: symbol, participantId: provider.id, side: 'short', position: -7_000_000 })]);
    const first = await admin(`/v1/admin/positions?instrument=${symbol}&limit=1`).expect(200);
    expect(first.body.items).toHaveLength(1);
    const second = await admin(`/v1/admin/positions?instrument=${symbol}&limit=1&cursor=${first.body.nextCursor}`).expect(200);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.items[0].participantId).not.toBe(first.body.items[0].participantId);
    expect(second.body.nextCursor).toBeNull();
    expect((await admin(`/v1/admin/positions?participant=${randomUUID()}`).expect(404)).body).toMatchObject({ code: 'PARTICIPANT_NOT_FOUND' });
    expect((await admin('/v1/admin/positions?participant=nope').expect(400)).body.message).toMatch(/participant/);
    expect((await admin('/v1/admin/positions?instrument=NO-SUCH-FORWARD').expect(404)).body.code).toBe('INSTRUMENT_NOT_FOUND');
    expect((await admin('/v1/admin/positions?cursor=garbage').expect(400)).body.code).toBe('INVALID_CURSOR');
    await t.http.get('/v1/admin/positions').set(bearer(buyer.key)).expect(403);
  });

  test('the console lists the contract, its positions and terms; nothing is marked yet', async () => {
    const contracts = await consoleGet(t, session, '/ops/forwards').expect(200);
    const row = contracts.text.slice(contracts.text.indexOf(`data-symbol="${symbol}"`)).split('</tr>')[0];
    expect(row).toContain('trading');
    expect(row).toMatch(/data-testid="contract-open-interest">7000000</);
    const positions = await consoleGet(t, session, `/ops/forwards/positions?instrument=${symbol}`).expect(200);
    expect(rowsOf(positions.text, 'position-row')).toBe(2);
    expect(positions.text).toMatch(/data-testid="position-equity">2\.800000</);
    const filtered = await consoleGet(t, session, `/ops/forwards/positions?participant=${buyer.id}&instrument=`).expect(200);
    expect(rowsOf(filtered.text, 'position-row')).toBe(1);
    await consoleGet(t, session, `/ops/forwards/positions?participant=${randomUUID()}`).expect(404);
    const page = await consoleGet(t, session, `/ops/forwards/${symbol}`).expect(200);
    expect(page.text).toContain(week.period);
    expect(page.text).toMatch(/2000 \/ 1000 bps of notional/);
    expect(page.text).toContain('data-testid="no-marks"');
    expect(page.text).toContain('data-testid="not-expirable"');
    expect(rowsOf(page.text, 'position-row')).toBe(2);
    await consoleGet(t, session, '/ops/forwards/NO-SUCH-FORWARD').expect(404);
  });

  test('the mark form refuses a missing reason or a bad price with a 400 and moves nothing', async () => {
    clock.set(justAfter(today));
    const before = await countRows(t, 'forward_marks');
    const noReason = await consolePost(t, session, `/ops/forwards/${symbol}/marks`, { day: today, price: '2.500', reason: '' }).expect(400);
    expect(noReason.text).toMatch(/reason/);
    await consolePost(t, session, `/ops/forwards/${symbol}/marks`, { day: today, price: 'cheap', reason: 'test: a bad price' }).expect(400);
    await consolePost(t, session, `/ops/forwards/${symbol}/marks`, { day: '2026-02-31', reason: 'test: a bad day' }).expect(400);
    await t.http.post(`/ops/forwards/${symbol}/marks`).set('Cookie', session.cookie).type('form').send({ day: today, reason: 'no csrf' }).expect(403);
    expect(await countRows(t, 'forward_marks')).toBe(before);
    expect(await audits(symbol, 'forward.mark.override')).toEqual([]);
  });

  test('a mark run from the console: the page shows it with its inputs, the call it raised, and the audit has who and why', async () => {
    const posted = await consolePost(t, session, `/ops/forwards/${symbol}/marks`, { day: today, price: '2.500', reason: 'test: the week repriced' }).expect(303);
    expect(posted.headers.location).toBe(`/ops/forwards/${symbol}?done=marked`);
    const page = await consoleGet(t, session, posted.headers.location!).expect(200);
    expect(page.text).toContain('class="flash"');
    expect(page.text).toMatch(new RegExp(`data-testid="mark-row" data-day="${today}"`));
    expect(page.text).toMatch(/data-testid="mark-row-price">2\.500</);
    expect(page.text).toMatch(/data-testid="mark-row-source">override</);
    expect(page.text).toContain('test: the week repriced'); // the override reason, among its inputs
    expect(page.text).toMatch(/data-testid="position-call" class="bad">in call</);
    const marks = (await t.http.get(`/v1/forwards/${symbol}/marks`).expect(200)).body.items;
    expect(marks).toEqual([expect.objectContaining({ day: today, price: '2.500', source: 'override' })]);
    expect(await audits(symbol, 'forward.mark.override')).toEqual([
      { actor_id: adminId, details: { reason: 'test: the week repriced', day: today, price: '2.500', source: 'override' } },
    ]);
    // The same day again, from the API without a price: the mark stands, nothing moves, nothing more is audited.
    await t.http.post(`/v1/admin/forwards/${symbol}/marks`).set(bearer(t.adminKey)).send({ day: today, reason: 'test: again' }).expect(200);
    await consolePost(t, session, `/ops/forwards/${symbol}/marks`, { day: today, reason: 'test: again' }).expect(303);
    expect(await audits(symbol, 'forward.mark.override')).toHaveLength(1);
    expect(await audits(symbol, 'forward.mark.run')).toEqual([]);
  });

  test('the open margin call is on the margin-calls page and in the API, filtered by contract', async () => {
    const calls = await admin(`/v1/admin/margin-calls?instrument=${symbol}`).expect(200);
    expect(calls.body.items).toEqual([expect.objectContaining({ instrument: symbol, participantId: provider.id, event: 'open', day: today })]);
    const page = await consoleGet(t, session, `/ops/forwards/margin-calls?instrument=${symbol}`).expect(200);
    expect(rowsOf(page.text, 'margin-event-row')).toBe(1);
    expect(page.text).toContain(`data-participant="${provider.id}"`);
    const all = await consoleGet(t, session, `/ops/forwards/margin-calls?status=all&event=raised&instrument=${symbol}`).expect(200);
    expect(all.text).toMatch(/data-event="raised"/);
    await consoleGet(t, session, '/ops/forwards/margin-calls?status=sometimes').expect(400);
    expect((await admin('/v1/admin/margin-calls?event=cut').expect(400)).body.message).toMatch(/status=all/);
    expect((await admin('/v1/admin/margin-calls?status=all&event=bogus').expect(400)).body.message).toMatch(/event/);
  });

  test('expiry from the console: refused without a reason; then once, audited with it, and the page says expired', async () => {
    clock.set(new Date(week.lastTradeAt.getTime() + 1_000));
    const page = await consoleGet(t, session, `/ops/forwards/${symbol}`).expect(200);
    expect(page.text).toContain('data-testid="expire-form"');
    await consolePost(t, session, `/ops/forwards/${symbol}/expire`, { reason: '' }).expect(400);
    expect(await audits(symbol, 'forward.expire')).toEqual([]);
    const posted = await consolePost(t, session, `/ops/forwards/${symbol}/expire`, { reason: 'test: the week is over' }).expect(303);
    expect(posted.headers.location).toBe(`/ops/forwards/${symbol}?done=expired`);
    expect(await audits(symbol, 'forward.expire')).toEqual([
      { actor_id: adminId, details: { reason: 'test: the week is over', settlementDay: expect.any(String), settlementPrice: '2.500', deliveries: 7 } },
    ]);
    const after = await consoleGet(t, session, posted.headers.location!).expect(200);
    expect(after.text).toContain('data-testid="expired"');
    expect(after.text).toMatch(/final: the settlement price/);
    expect((await admin(`/v1/admin/positions?instrument=${symbol}`).expect(200)).body.items).toEqual([]);
    // Again: nothing moves, nothing more is audited.
    await consolePost(t, session, `/ops/forwards/${symbol}/expire`, { reason: 'test: again' }).expect(303);
    expect(await audits(symbol, 'forward.expire')).toHaveLength(1);
  });
});

describe('a default through the waterfall, and the insurance fund', () => {
  let symbol: string;
  let provider: TestParticipant;
  let resting: string;
  const balance = async () => (await admin('/v1/admin/insurance-fund').expect(200)).body.balance as string;
  const micros = (usd: string) => BigInt(usd.replace('.', ''));

  beforeAll(async () => {
    clock.set(new Date());
    const listed = await listForward(later.period);
    symbol = listed.symbol;
    provider = await fundedProvider(t, listed.modelClassId, { tokensPerSecond: 1_000, cash: '3' });
    await trade(symbol, provider, await fundedBuyer(t, '100'));
    // A third contract with only a resting order: expired through the API below.
    const other = await listForward(later.period);
    const buyer = await fundedBuyer(t, '10');
    resting = other.symbol;
    await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: resting, side: 'buy', type: 'limit', price: '1.000', quantity: 7_000 }).expect(201);
  });

  test('the deposit form refuses a missing reason or a bad amount; a good one tops the fund up, audited with the reason', async () => {
    const before = await balance();
    const deposits = await countRows(t, 'audit_events');
    await consolePost(t, session, '/ops/forwards/insurance-fund/deposits', { amount: '0.500000', reason: '' }).expect(400);
    await consolePost(t, session, '/ops/forwards/insurance-fund/deposits', { amount: '-1', reason: 'test: a bad amount' }).expect(400);
    await consolePost(t, session, '/ops/forwards/insurance-fund/deposits', { amount: '0.500000', reason: 'test', surprise: 'x' }).expect(400);
    expect(await balance()).toBe(before);
    expect(await countRows(t, 'audit_events')).toBe(deposits);
    const posted = await consolePost(t, session, '/ops/forwards/insurance-fund/deposits', { amount: '0.500000', reference: 'wire 42', reason: 'test: cover the week' }).expect(303);
    expect(posted.headers.location).toBe('/ops/forwards/defaults?done=insurance');
    expect(micros(await balance())).toBe(micros(before) + 500_000n);
    const [audit] = await t.dataSource.query(`SELECT actor_id, details FROM audit_events WHERE action = 'insurance.deposit' ORDER BY id DESC LIMIT 1`);
    expect(audit).toEqual({ actor_id: adminId, details: { amount: '0.500000', reference: 'wire 42', reason: 'test: cover the week' } });
    const page = await consoleGet(t, session, posted.headers.location!).expect(200);
    expect(page.text).toContain(`data-testid="insurance-balance">${await balance()}<`);
  });

  test('a mark the short cannot pay: the default and its amount on the defaults page and in the API', async () => {
    clock.set(justAfter(today));
    await t.http.post(`/v1/admin/forwards/${symbol}/marks`).set(bearer(t.adminKey)).send({ day: today, price: '2.500', reason: 'test: a jump' }).expect(200);
    expect(await audits(symbol, 'forward.mark.override')).toEqual([{ actor_id: adminId, details: { reason: 'test: a jump', day: today, price: '2.500', source: 'override' } }]);
    const defaults = await admin(`/v1/admin/margin-calls?status=all&event=defaulted,cut&instrument=${symbol}`).expect(200);
    expect(defaults.body.items).toEqual([expect.objectContaining({ participantId: provider.id, event: 'defaulted', amount: '0.500000', day: today })]);
    const page = await consoleGet(t, session, '/ops/forwards/defaults').expect(200);
    const row = page.text.slice(page.text.indexOf(`data-event="defaulted" data-instrument="${symbol}"`)).split('</tr>')[0];
    expect(row).toContain(provider.id);
    expect(row).toMatch(/data-testid="event-amount">0\.500000</);
    expect(page.text).not.toContain('data-event="raised"');
  });

  test('expire through the API: before its last trade 422; after, audited with the reason given', async () => {
    expect((await t.http.post(`/v1/admin/forwards/${resting}/expire`).set(bearer(t.adminKey)).send({ reason: 'test: too early' }).expect(422)).body.code).toBe('NOT_EXPIRED');
    const early = await consolePost(t, session, `/ops/forwards/${resting}/expire`, { reason: 'test: too early' }).expect(422);
    expect(early.text).toContain('NOT_EXPIRED');
    await t.http.post(`/v1/admin/forwards/${resting}/expire`).set(bearer(t.adminKey)).send({ reason: 'x'.repeat(501) }).expect(400);
    clock.set(new Date(later.lastTradeAt.getTime() + 1_000));
    const expired = await t.http.post(`/v1/admin/forwards/${resting}/expire`).set(bearer(t.adminKey)).send({ reason: 'test: expired by hand' }).expect(200);
    expect(expired.body).toMatchObject({ repeated: false, deliveries: 0 });
    expect(await audits(resting, 'forward.expire')).toEqual([{ actor_id: adminId, details: { reason: 'test: expired by hand', settlementDay: expect.any(String), settlementPrice: null, deliveries: 0 } }]);
  });
});
