import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { ForwardListing } from '../../src/forwards/series/forward-listing.js';
import { ListForwardContractsJob } from '../../src/forwards/series/forward-series.jobs.js';
import { bearer, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';
import { TestClock } from '../support/test-clock.js';

// The app's clock is a TestClock: each test sets the moment its listing runs at, years ahead of
// the real one, and moves it past a last trade instead of waiting for it.
const clock = new TestClock('2031-03-10T12:00:00Z');
let t: TestApp;
let buyer: TestParticipant;
let provider: TestParticipant;
beforeAll(async () => {
  t = await startTestApp({}, 'api', { clock });
  buyer = await createParticipant(t, ['buyer']);
  provider = await createParticipant(t, ['provider']);
});
afterAll(async () => {
  // Series left active would be listed by any worker that runs later on this database.
  await t.dataSource.query(`UPDATE forward_series SET active = false WHERE model_class_id LIKE $1`, [`${PREFIX}%`]);
  await t.close();
});

const PREFIX = `fs${randomUUID().slice(0, 8)}`;
let sequence = 0;

async function createModelClass(): Promise<string> {
  const id = `${PREFIX}-${++sequence}b`;
  await t.http
    .post('/v1/admin/model-classes')
    .set(bearer(t.adminKey))
    .send({ id, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 })
    .expect(201);
  return id;
}

const createSeries = (body: object, key = t.adminKey) => t.http.post('/v1/admin/forward-series').set(bearer(key)).send(body);
const patchSeries = (id: string, body: object) => t.http.patch(`/v1/admin/forward-series/${id}`).set(bearer(t.adminKey)).send(body);

/** One scheduled run, as the worker runs it: the job's handler (which keeps its transactions to itself). */
const runListingJob = () => t.app.get(ListForwardContractsJob).handle({ reason: 'test' });

/** The forwards listed for a model class, oldest first, as anyone reads them. */
async function forwardsOf(modelClassId: string): Promise<Array<Record<string, unknown>>> {
  const { body } = await t.http.get(`/v1/instruments?modelClass=${modelClassId}&kind=forward&limit=1000`).expect(200);
  return body.items;
}
const symbolsOf = async (modelClassId: string) => (await forwardsOf(modelClassId)).map((i) => i.symbol);

async function seriesRowsWritten(): Promise<{ series: number; instruments: number; audit: number; outbox: number }> {
  const [row] = await t.dataSource.query(
    `SELECT (SELECT count(*)::int FROM forward_series WHERE model_class_id LIKE $1) AS series,
            (SELECT count(*)::int FROM instruments WHERE model_class_id LIKE $1) AS instruments,
            (SELECT count(*)::int FROM audit_events WHERE subject_type = 'forward-series') AS audit,
            (SELECT count(*)::int FROM outbox WHERE job_name = 'forwards.list-contracts') AS outbox`,
    [`${PREFIX}%`],
  );
  return row;
}

describe('forward series', () => {
  test('an admin defines a monthly series: the run lists its next contracts with its terms, once, and rolls on past a last trade', async () => {
    clock.set('2031-03-10T12:00:00Z');
    const modelClassId = await createModelClass();
    const stem = modelClassId.toUpperCase();
    const created = await createSeries({ modelClassId, cadence: 'monthly', periodsAhead: 3, initialMarginBps: 2500, maintenanceMarginBps: 1200, bondBps: 800 }).expect(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      modelClassId,
      cadence: 'monthly',
      periodsAhead: 3,
      initialMarginBps: 2500,
      maintenanceMarginBps: 1200,
      bondBps: 800,
      tickSize: '0.001',
      lotSize: 1000,
      makerFeeBps: 0,
      takerFeeBps: 10,
      collarBps: 1000,
      active: true,
      dueContracts: [`${stem}-2031-04`, `${stem}-2031-05`, `${stem}-2031-06`],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const id = created.body.id;
    expect((await t.http.get(`/v1/admin/forward-series/${id}`).set(bearer(t.adminKey)).expect(200)).body).toEqual(created.body);
    const [audit] = await t.dataSource.query(`SELECT action, actor_id, details FROM audit_events WHERE subject_type = 'forward-series' AND subject_id = $1`, [id]);
    expect(audit).toMatchObject({ action: 'forward-series.create', actor_id: expect.any(String), details: expect.objectContaining({ periodsAhead: 3, bondBps: 800 }) });
    // The listing run is enqueued with the series (the outbox), so the worker lists at once.
    const outbox = await t.dataSource.query(`SELECT status, payload FROM outbox WHERE job_name = 'forwards.list-contracts' AND job_key LIKE $1`, [`series ${id} %`]);
    expect(outbox).toEqual([{ status: 'pending', payload: { reason: `forward-series.create ${id}` } }]);
    expect(await symbolsOf(modelClassId)).toEqual([]); // this app has no worker

    await runListingJob();
    const listed = await forwardsOf(modelClassId);
    expect(listed.map((i) => i.symbol)).toEqual([`${stem}-2031-04`, `${stem}-2031-05`, `${stem}-2031-06`]);
    expect(listed[0]).toEqual({
      symbol: `${stem}-2031-04`,
      kind: 'forward',
      modelClassId,
      tickSize: '0.001',
      lotSize: 1000,
      makerFeeBps: 0,
      takerFeeBps: 10,
      collarBps: 1000,
      spotWindowSeconds: null,
      bondBps: 800,
      deliveryPeriod: '2031-04',
      deliveryStart: '2031-04-01T00:00:00.000Z',
      deliveryEnd: '2031-05-01T00:00:00.000Z',
      lastTradeAt: '2031-03-31T00:00:00.000Z',
      status: 'active',
      haltReason: null,
      haltedAt: null,
      createdAt: expect.any(String),
      deliveryDays: 30,
      initialMarginBps: 2500,
      maintenanceMarginBps: 1200,
      quantityUnit: 'tokens over the delivery period, delivered as one delivery per UTC day',
    });
    expect(listed.map((i) => i.deliveryDays)).toEqual([30, 31, 30]);
    const listings = await t.dataSource.query(
      `SELECT actor_id, details->>'seriesId' AS series FROM audit_events WHERE action = 'instrument.create' AND subject_id LIKE $1`,
      [`${stem}-%`],
    );
    expect(listings).toEqual(Array(3).fill({ actor_id: null, series: id }));

    // A second run at the same moment lists nothing.
    expect(await t.app.get(ForwardListing).run('again')).not.toContainEqual(expect.objectContaining({ seriesId: id }));
    expect(await symbolsOf(modelClassId)).toHaveLength(3);

    // A millisecond before April's last trade nothing changes; at it, July is listed.
    clock.set('2031-03-30T23:59:59.999Z');
    await runListingJob();
    expect(await symbolsOf(modelClassId)).toHaveLength(3);
    clock.set('2031-03-31T00:00:00Z');
    const rolled = (await t.app.get(ForwardListing).run('rolled')).filter((c) => c.seriesId === id);
    expect(rolled).toEqual([{ seriesId: id, symbol: `${stem}-2031-07` }]);
    expect(await symbolsOf(modelClassId)).toEqual([`${stem}-2031-04`, `${stem}-2031-05`, `${stem}-2031-06`, `${stem}-2031-07`]);
    const view = await t.http.get(`/v1/admin/forward-series/${id}`).set(bearer(t.adminKey)).expect(200);
    expect(view.body.dueContracts).toEqual([`${stem}-2031-05`, `${stem}-2031-06`, `${stem}-2031-07`]);
  });

  test('a weekly series lists ISO weeks across a year of 53 weeks; runs at once list each contract once', async () => {
    // Wednesday 15 December 2032 is in 2032-W51; 2032 has 53 ISO weeks.
    clock.set('2032-12-15T12:00:00Z');
    const modelClassId = await createModelClass();
    const stem = modelClassId.toUpperCase();
    const { body: series } = await createSeries({ modelClassId, cadence: 'weekly', periodsAhead: 3, tickSize: '0.05', lotSize: 20, takerFeeBps: 5 }).expect(201);
    const listing = t.app.get(ForwardListing);
    const runs = await Promise.all([listing.run('a'), listing.run('b'), listing.run('c')]);
    // Between them the three runs listed each contract exactly once.
    const listed = runs.flat().filter((c) => c.seriesId === series.id).map((c) => c.symbol);
    const expected = [`${stem}-2032-W52`, `${stem}-2032-W53`, `${stem}-2033-W01`];
    expect(listed.sort()).toEqual(expected);
    await runListingJob();
    const forwards = await forwardsOf(modelClassId);
    expect(forwards.map((i) => i.symbol).sort()).toEqual(expected);
    expect(forwards.find((i) => i.symbol === `${stem}-2032-W53`)).toMatchObject({
      deliveryStart: '2032-12-27T00:00:00.000Z',
      deliveryEnd: '2033-01-03T00:00:00.000Z',
      lastTradeAt: '2032-12-26T00:00:00.000Z',
      deliveryDays: 7,
      tickSize: '0.05',
      lotSize: 20,
      takerFeeBps: 5,
      initialMarginBps: 2000,
      maintenanceMarginBps: 1000,
      bondBps: 1000,
    });
  });

  test('PATCH changes how far ahead a series lists, and pauses it; listed contracts stay', async () => {
    clock.set('2031-06-15T00:00:00Z');
    const modelClassId = await createModelClass();
    const stem = modelClassId.toUpperCase();
    const { body: series } = await createSeries({ modelClassId, cadence: 'monthly', periodsAhead: 1 }).expect(201);
    await runListingJob();
    expect(await symbolsOf(modelClassId)).toEqual([`${stem}-2031-07`]);

    const widened = await patchSeries(series.id, { periodsAhead: 2 }).expect(200);
    expect(widened.body).toMatchObject({ periodsAhead: 2, active: true, dueContracts: [`${stem}-2031-07`, `${stem}-2031-08`] });
    await runListingJob();
    expect(await symbolsOf(modelClassId)).toEqual([`${stem}-2031-07`, `${stem}-2031-08`]);

    const paused = await patchSeries(series.id, { active: false }).expect(200);
    expect(paused.body).toMatchObject({ active: false, dueContracts: [] });
    clock.set('2031-08-01T00:00:00Z');
    await runListingJob();
    expect(await symbolsOf(modelClassId)).toEqual([`${stem}-2031-07`, `${stem}-2031-08`]);

    await patchSeries(series.id, { active: true }).expect(200);
    await runListingJob();
    expect(await symbolsOf(modelClassId)).toEqual([`${stem}-2031-07`, `${stem}-2031-08`, `${stem}-2031-09`, `${stem}-2031-10`]);

    const audit = await t.dataSource.query(`SELECT action, details FROM audit_events WHERE subject_type = 'forward-series' AND subject_id = $1 ORDER BY id`, [series.id]);
    expect(audit.map((a: { action: string }) => a.action)).toEqual(['forward-series.create', 'forward-series.update', 'forward-series.update', 'forward-series.update']);
    expect(audit.slice(1).map((a: { details: unknown }) => a.details)).toEqual([{ periodsAhead: 2 }, { active: false }, { active: true }]);
    // Each change that leaves the series active enqueues a run of its own; pausing enqueues none.
    const [{ runs }] = await t.dataSource.query(`SELECT count(*)::int AS runs FROM outbox WHERE job_name = 'forwards.list-contracts' AND job_key LIKE $1`, [`series ${series.id} %`]);
    expect(runs).toBe(3);
  });

  test('one series per model class and cadence; an unknown model class is a 404', async () => {
    clock.set('2031-03-10T12:00:00Z');
    const modelClassId = await createModelClass();
    await createSeries({ modelClassId, cadence: 'monthly', periodsAhead: 2 }).expect(201);
    await createSeries({ modelClassId, cadence: 'weekly', periodsAhead: 2 }).expect(201);
    const before = await seriesRowsWritten();
    const again = await createSeries({ modelClassId, cadence: 'monthly', periodsAhead: 5 }).expect(409);
    expect(again.body.code).toBe('FORWARD_SERIES_EXISTS');
    const unknown = await createSeries({ modelClassId: `${PREFIX}-unknown`, cadence: 'monthly', periodsAhead: 2 }).expect(404);
    expect(unknown.body.code).toBe('MODEL_CLASS_NOT_FOUND');
    expect(await seriesRowsWritten()).toEqual(before);
  });

  test('only admins see or change series', async () => {
    const modelClassId = await createModelClass();
    const { body: series } = await createSeries({ modelClassId, cadence: 'monthly', periodsAhead: 1 }).expect(201);
    const before = await seriesRowsWritten();
    for (const who of [buyer, provider]) {
      const refused = await createSeries({ modelClassId, cadence: 'weekly', periodsAhead: 1 }, who.key).expect(403);
      expect(refused.body.code).toBe('ROLE_REQUIRED');
      await t.http.get('/v1/admin/forward-series').set(bearer(who.key)).expect(403);
      await t.http.get(`/v1/admin/forward-series/${series.id}`).set(bearer(who.key)).expect(403);
      await t.http.patch(`/v1/admin/forward-series/${series.id}`).set(bearer(who.key)).send({ active: false }).expect(403);
    }
    await t.http.post('/v1/admin/forward-series').send({ modelClassId, cadence: 'weekly', periodsAhead: 1 }).expect(401);
    await t.http.get('/v1/admin/forward-series').expect(401);
    expect(await seriesRowsWritten()).toEqual(before);
  });

  test.each([
    ['modelClassId missing', { modelClassId: undefined }, 'modelClassId'],
    ['modelClassId not a slug', { modelClassId: 'Not_A_Slug' }, 'modelClassId'],
    ['cadence unknown', { cadence: 'daily' }, 'cadence'],
    ['periodsAhead missing', { periodsAhead: undefined }, 'periodsAhead'],
    ['periodsAhead zero', { periodsAhead: 0 }, 'periodsAhead'],
    ['periodsAhead a fraction', { periodsAhead: 1.5 }, 'periodsAhead'],
    ['13 months ahead', { periodsAhead: 13 }, 'periodsAhead'],
    ['9 weeks ahead', { cadence: 'weekly', periodsAhead: 9 }, 'periodsAhead'],
    ['initialMarginBps zero', { initialMarginBps: 0 }, 'initialMarginBps'],
    ['initialMarginBps above 10000', { initialMarginBps: 10_001 }, 'initialMarginBps'],
    ['maintenanceMarginBps above initialMarginBps', { initialMarginBps: 1000, maintenanceMarginBps: 1001 }, 'maintenanceMarginBps'],
    ['maintenanceMarginBps zero', { maintenanceMarginBps: 0 }, 'maintenanceMarginBps'],
    ['bondBps above 10000', { bondBps: 10_001 }, 'bondBps'],
    ['tickSize a number', { tickSize: 0.001 }, 'tickSize'],
    ['tick × lot not a whole micro-USD', { tickSize: '0.0005' }, 'lotSize'],
    ['takerFeeBps above 1000', { takerFeeBps: 1001 }, 'takerFeeBps'],
    ['collarBps negative', { collarBps: -1 }, 'collarBps'],
    ['active a string', { active: 'yes' }, 'active'],
    ['an unknown field', { deliveryPeriod: '2031-04' }, 'deliveryPeriod'],
  ])('bad series: %s is a 400 naming the field, nothing written', async (_, change, field) => {
    const modelClassId = await createModelClass();
    const before = await seriesRowsWritten();
    const response = await createSeries({ modelClassId, cadence: 'monthly', periodsAhead: 3, ...change }).expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', message: expect.stringContaining(field) });
    expect(await seriesRowsWritten()).toEqual(before);
  });

  test('bad changes are a 400 naming the field; an unknown series is a 404', async () => {
    const modelClassId = await createModelClass();
    const { body: series } = await createSeries({ modelClassId, cadence: 'weekly', periodsAhead: 2 }).expect(201);
    const before = await seriesRowsWritten();
    for (const [body, field] of [
      [{ periodsAhead: 9 }, 'periodsAhead'],
      [{ periodsAhead: 0 }, 'periodsAhead'],
      [{ active: 'no' }, 'active'],
      [{}, 'periodsAhead'],
      [{ cadence: 'monthly' }, 'cadence'],
      [{ bondBps: 500 }, 'bondBps'],
    ] as const) {
      const response = await patchSeries(series.id, body).expect(400);
      expect(response.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining(field) });
    }
    const missing = await patchSeries(randomUUID(), { active: false }).expect(404);
    expect(missing.body.code).toBe('FORWARD_SERIES_NOT_FOUND');
    await t.http.get(`/v1/admin/forward-series/${randomUUID()}`).set(bearer(t.adminKey)).expect(404);
    const malformed = await t.http.get('/v1/admin/forward-series/not-a-uuid').set(bearer(t.adminKey)).expect(400);
    expect(malformed.body.message).toContain('id');
    expect(await seriesRowsWritten()).toEqual(before);
  });

  test('the list is cursor-paginated, oldest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createSeries({ modelClassId: await createModelClass(), cadence: 'monthly', periodsAhead: 1 }).expect(201)).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const { body }: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await t.http
        .get(`/v1/admin/forward-series?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        .set(bearer(t.adminKey))
        .expect(200);
      seen.push(...body.items.map((s) => s.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
    expect(new Set(seen).size).toBe(seen.length);
    const bad = await t.http.get('/v1/admin/forward-series?cursor=nonsense').set(bearer(t.adminKey)).expect(400);
    expect(bad.body.code).toBe('INVALID_CURSOR');
  });
});
