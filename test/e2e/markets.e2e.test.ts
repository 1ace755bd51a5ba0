import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { MarketsService } from '../../src/markets/markets.service.js';
import { bearer, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

let t: TestApp;
let buyer: TestParticipant;
let provider: TestParticipant;
beforeAll(async () => {
  t = await startTestApp();
  buyer = await createParticipant(t, ['buyer']);
  provider = await createParticipant(t, ['provider']);
});
afterAll(async () => {
  await t.close();
});

// Other test files share the database and add model classes of their own, so this file names
// its own with one prefix and counts only those rows to prove a refused request wrote nothing.
const PREFIX = `mk${randomUUID().slice(0, 8)}`;
let sequence = 0;
const newModelId = () => `${PREFIX}-${++sequence}.b-instruct`;

async function rowsWritten(): Promise<{ modelClasses: number; instruments: number; audit: number }> {
  const [row] = await t.dataSource.query(
    `SELECT (SELECT count(*)::int FROM model_classes WHERE id LIKE $1) AS "modelClasses",
            (SELECT count(*)::int FROM instruments WHERE model_class_id LIKE $1) AS instruments,
            (SELECT count(*)::int FROM audit_events WHERE lower(subject_id) LIKE $1) AS audit`,
    [`${PREFIX}%`],
  );
  return row;
}

const modelClassBody = (id: string) => ({ id, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 });

async function createModelClass(id = newModelId()): Promise<string> {
  await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send(modelClassBody(id)).expect(201);
  return id;
}

const createInstrument = (body: object) => t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send(body);

/** Every item of a list, following nextCursor with small pages. */
async function listAll(path: string, limit: number): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const { body }: { body: { items: Array<Record<string, unknown>>; nextCursor: string | null } } = await t.http
      .get(`${path}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
      .expect(200);
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return items;
}

describe('model classes', () => {
  test('an admin adds one; anyone reads it without a key', async () => {
    const id = newModelId();
    const created = await t.http
      .post('/v1/admin/model-classes')
      .set(bearer(t.adminKey))
      .send({ id, tokenizer: 'tiktoken:o200k_base', inputWeightBps: 2500, minTokensPerSecond: 25, maxTtftMs: 1500 })
      .expect(201);
    expect(created.body).toEqual({
      id,
      tokenizer: 'tiktoken:o200k_base',
      inputWeightBps: 2500,
      minTokensPerSecond: 25,
      maxTtftMs: 1500,
      createdAt: expect.any(String),
    });
    const read = await t.http.get(`/v1/model-classes/${id}`).expect(200);
    expect(read.body).toEqual(created.body);
    const [audit] = await t.dataSource.query(`SELECT action, actor_id FROM audit_events WHERE subject_type = 'model-class' AND subject_id = $1`, [id]);
    expect(audit).toMatchObject({ action: 'model-class.create', actor_id: expect.any(String) });

    const again = await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send(modelClassBody(id)).expect(409);
    expect(again.body.code).toBe('MODEL_CLASS_EXISTS');
    const missing = await t.http.get(`/v1/model-classes/${PREFIX}-missing`).expect(404);
    expect(missing.body.code).toBe('MODEL_CLASS_NOT_FOUND');
    const malformed = await t.http.get('/v1/model-classes/Not_A_Slug').expect(400);
    expect(malformed.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('id must be') });
  });

  test('the list is public and cursor-paginated, oldest first', async () => {
    const ids = [await createModelClass(), await createModelClass(), await createModelClass()];
    const listed = (await listAll('/v1/model-classes', 2)).map((m) => m.id).filter((id) => ids.includes(id as string));
    expect(listed).toEqual(ids);
    const bad = await t.http.get('/v1/model-classes?limit=0').expect(400);
    expect(bad.body.message).toContain('limit');
    const cursor = await t.http.get('/v1/model-classes?cursor=nonsense').expect(400);
    expect(cursor.body.code).toBe('INVALID_CURSOR');
  });

  test('only admins add model classes', async () => {
    const before = await rowsWritten();
    for (const who of [buyer, provider]) {
      const refused = await t.http.post('/v1/admin/model-classes').set(bearer(who.key)).send(modelClassBody(newModelId())).expect(403);
      expect(refused.body.code).toBe('ROLE_REQUIRED');
    }
    await t.http.post('/v1/admin/model-classes').send(modelClassBody(newModelId())).expect(401);
    expect(await rowsWritten()).toEqual(before);
  });

  test.each([
    ['id with capitals', { id: 'Llama-3' }, 'id'],
    ['id with an underscore', { id: 'llama_3' }, 'id'],
    ['id of one character', { id: 'l' }, 'id'],
    ['id of 65 characters', { id: 'l'.repeat(65) }, 'id'],
    ['id ending in a dot', { id: 'llama-3.' }, 'id'],
    ['id missing', { id: undefined }, 'id'],
    ['tokenizer with a space', { tokenizer: 'llama 3' }, 'tokenizer'],
    ['tokenizer empty', { tokenizer: '' }, 'tokenizer'],
    ['inputWeightBps above 10000', { inputWeightBps: 10_001 }, 'inputWeightBps'],
    ['inputWeightBps negative', { inputWeightBps: -1 }, 'inputWeightBps'],
    ['inputWeightBps a fraction', { inputWeightBps: 2500.5 }, 'inputWeightBps'],
    ['inputWeightBps a string', { inputWeightBps: '2500' }, 'inputWeightBps'],
    ['minTokensPerSecond zero', { minTokensPerSecond: 0 }, 'minTokensPerSecond'],
    ['maxTtftMs zero', { maxTtftMs: 0 }, 'maxTtftMs'],
    ['an unknown field', { symbol: 'X-SPOT' }, 'symbol'],
  ])('bad model class: %s is a 400 naming the field, nothing written', async (_, change, field) => {
    const before = await rowsWritten();
    const body = { ...modelClassBody(`${PREFIX}-bad`), ...change };
    const response = await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send(body).expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', message: expect.stringContaining(field) });
    expect(await rowsWritten()).toEqual(before);
  });

  test('the tokenizer must be one the exchange has, since its audits re-count with it: others are refused, listing the known ones', async () => {
    const known = ['llama3', 'tiktoken:cl100k_base', 'tiktoken:o200k_base'];
    const before = await rowsWritten();
    for (const tokenizer of ['bert-base-uncased', 'tiktoken:o300k_base', 'Llama3']) {
      const id = newModelId();
      const refused = await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send({ ...modelClassBody(id), tokenizer }).expect(400);
      expect(refused.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', message: expect.stringMatching(/^tokenizer must be one of /) });
      for (const name of known) expect(refused.body.message).toContain(`"${name}"`);
      const missing = await t.http.get(`/v1/model-classes/${id}`).expect(404);
      expect(missing.body.code).toBe('MODEL_CLASS_NOT_FOUND');
    }
    expect(await rowsWritten()).toEqual(before);

    for (const tokenizer of known) {
      const id = newModelId();
      const created = await t.http.post('/v1/admin/model-classes').set(bearer(t.adminKey)).send({ ...modelClassBody(id), tokenizer }).expect(201);
      expect(created.body).toMatchObject({ id, tokenizer });
      await t.http.get(`/v1/model-classes/${id}`).expect(200);
    }
  });

  test('the OpenAPI document lists the supported tokenizers', async () => {
    const { body } = await t.http.get('/docs-json').expect(200);
    const property = body.components.schemas.CreateModelClassDto.properties.tokenizer;
    expect(property.enum).toEqual(expect.arrayContaining(['llama3', 'tiktoken:cl100k_base', 'tiktoken:o200k_base']));
    expect(property.description).toContain('"llama3"');
  });
});

describe('instruments', () => {
  test('a spot instrument: the symbol is derived, the defaults filled in, anyone reads it', async () => {
    const modelClassId = await createModelClass();
    const symbol = `${modelClassId.toUpperCase()}-SPOT`;
    const created = await createInstrument({ modelClassId, kind: 'spot' }).expect(201);
    expect(created.body).toEqual({
      symbol,
      kind: 'spot',
      modelClassId,
      tickSize: '0.001',
      lotSize: 1000,
      makerFeeBps: 0,
      takerFeeBps: 10,
      collarBps: 1000,
      spotWindowSeconds: 86_400,
      bondBps: 1000,
      deliveryPeriod: null,
      deliveryStart: null,
      deliveryEnd: null,
      lastTradeAt: null,
      status: 'active',
      haltReason: null,
      haltedAt: null,
      createdAt: expect.any(String),
    });
    const read = await t.http.get(`/v1/instruments/${symbol}`).expect(200);
    expect(read.body).toEqual(created.body);

    const again = await createInstrument({ modelClassId, kind: 'spot', takerFeeBps: 5 }).expect(409);
    expect(again.body.code).toBe('INSTRUMENT_EXISTS');
    const missing = await t.http.get(`/v1/instruments/${PREFIX.toUpperCase()}-NONE-SPOT`).expect(404);
    expect(missing.body.code).toBe('INSTRUMENT_NOT_FOUND');
    const malformed = await t.http.get(`/v1/instruments/${symbol.toLowerCase()}`).expect(400);
    expect(malformed.body.message).toContain('symbol');
  });

  test('forwards: monthly and ISO-weekly symbols and delivery periods, UTC, with the contract terms', async () => {
    const modelClassId = await createModelClass();
    const stem = modelClassId.toUpperCase();
    const monthly = await createInstrument({ modelClassId, kind: 'forward', deliveryPeriod: '2099-01' }).expect(201);
    expect(monthly.body).toEqual({
      symbol: `${stem}-2099-01`,
      kind: 'forward',
      modelClassId,
      tickSize: '0.001',
      lotSize: 1000,
      makerFeeBps: 0,
      takerFeeBps: 10,
      collarBps: 1000,
      spotWindowSeconds: null,
      bondBps: 1000,
      deliveryPeriod: '2099-01',
      deliveryStart: '2099-01-01T00:00:00.000Z',
      deliveryEnd: '2099-02-01T00:00:00.000Z',
      // market-rules §6: trading stops at 00:00 UTC the day before delivery starts.
      lastTradeAt: '2098-12-31T00:00:00.000Z',
      status: 'active',
      haltReason: null,
      haltedAt: null,
      createdAt: expect.any(String),
      deliveryDays: 31,
      initialMarginBps: 2000,
      maintenanceMarginBps: 1000,
      quantityUnit: 'tokens over the delivery period, delivered as one delivery per UTC day',
    });
    expect((await t.http.get(`/v1/instruments/${stem}-2099-01`).expect(200)).body).toEqual(monthly.body);
    // ISO week 1 of 2099 begins on Monday 29 December 2098, so week 3 begins on 12 January.
    const weekly = await createInstrument({ modelClassId, kind: 'forward', deliveryPeriod: '2099-W03', lastTradeAt: '2099-01-11T18:00:00+02:00' }).expect(201);
    expect(weekly.body).toMatchObject({
      symbol: `${stem}-2099-W03`,
      deliveryStart: '2099-01-12T00:00:00.000Z',
      deliveryEnd: '2099-01-19T00:00:00.000Z',
      deliveryDays: 7,
      lastTradeAt: '2099-01-11T16:00:00.000Z',
    });
    const week53 = await createInstrument({ modelClassId, kind: 'forward', deliveryPeriod: '2099-W53' }).expect(201);
    expect(week53.body).toMatchObject({ deliveryStart: '2099-12-28T00:00:00.000Z', deliveryEnd: '2100-01-04T00:00:00.000Z', lastTradeAt: '2099-12-27T00:00:00.000Z' });
    const listed = await t.http.get(`/v1/instruments?modelClass=${modelClassId}`).expect(200);
    expect(listed.body.items.find((i: { symbol: string }) => i.symbol === `${stem}-2099-W03`)).toEqual(weekly.body);
  });

  test('an admin may choose the grid, fees, collar, window and bond', async () => {
    const modelClassId = await createModelClass();
    const spot = await createInstrument({
      modelClassId,
      kind: 'spot',
      tickSize: '0.000001',
      lotSize: 1_000_000,
      makerFeeBps: 2,
      takerFeeBps: 25,
      collarBps: 500,
      spotWindowSeconds: 3600,
      bondBps: 250,
    }).expect(201);
    expect(spot.body).toMatchObject({ tickSize: '0.000001', lotSize: 1_000_000, makerFeeBps: 2, takerFeeBps: 25, collarBps: 500, spotWindowSeconds: 3600, bondBps: 250 });
    const forward = await createInstrument({
      modelClassId,
      kind: 'forward',
      deliveryPeriod: '2098-07',
      tickSize: '0.05',
      lotSize: 20,
      initialMarginBps: 3000,
      maintenanceMarginBps: 1500,
      bondBps: 500,
    }).expect(201);
    expect(forward.body).toMatchObject({ tickSize: '0.05', lotSize: 20, initialMarginBps: 3000, maintenanceMarginBps: 1500, bondBps: 500 });
    const [audit] = await t.dataSource.query(`SELECT details FROM audit_events WHERE subject_type = 'instrument' AND subject_id = $1`, [forward.body.symbol]);
    expect(audit.details).toMatchObject({ initialMarginBps: 3000, maintenanceMarginBps: 1500, bondBps: 500 });
  });

  test('the service other modules call answers in integers', async () => {
    const modelClassId = await createModelClass();
    const markets = t.app.get(MarketsService);
    const { body } = await createInstrument({ modelClassId, kind: 'forward', deliveryPeriod: '2099-03', tickSize: '0.01', lotSize: 500 }).expect(201);
    expect(await markets.instrument(body.symbol)).toEqual({
      symbol: body.symbol,
      kind: 'forward',
      modelClassId,
      tickMicroUsdPerMTok: 10_000,
      lotTokens: 500,
      makerFeeBps: 0,
      takerFeeBps: 10,
      collarBps: 1000,
      bondBps: 1000,
      status: 'active',
      deliveryPeriod: '2099-03',
      deliveryStart: new Date('2099-03-01T00:00:00Z'),
      deliveryEnd: new Date('2099-04-01T00:00:00Z'),
      lastTradeAt: new Date('2099-02-28T00:00:00Z'),
      initialMarginBps: 2000,
      maintenanceMarginBps: 1000,
    });
    expect(await markets.instrument('NO-SUCH-SPOT')).toBeUndefined();
    expect((await markets.listActiveInstruments()).map((i) => i.symbol)).toContain(body.symbol);
    expect(await markets.modelClass(modelClassId)).toEqual({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 });
  });

  test('an unknown model class is a 404 and writes nothing', async () => {
    const before = await rowsWritten();
    const response = await createInstrument({ modelClassId: `${PREFIX}-unknown`, kind: 'spot' }).expect(404);
    expect(response.body.code).toBe('MODEL_CLASS_NOT_FOUND');
    expect(await rowsWritten()).toEqual(before);
  });

  test('a forward is listed only before its period starts and while trading is ahead', async () => {
    const modelClassId = await createModelClass();
    const before = await rowsWritten();
    const now = new Date();
    const thisMonth = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    const cases: Array<[object, string, string]> = [
      [{ deliveryPeriod: '2020-01' }, 'DELIVERY_PERIOD_PAST', 'deliveryPeriod'],
      [{ deliveryPeriod: thisMonth }, 'DELIVERY_PERIOD_PAST', 'deliveryPeriod'],
      [{ deliveryPeriod: '2021-W10' }, 'DELIVERY_PERIOD_PAST', 'deliveryPeriod'],
      [{ deliveryPeriod: '2099-01', lastTradeAt: '2020-01-01T00:00:00Z' }, 'LAST_TRADE_IN_PAST', 'lastTradeAt'],
      [{ deliveryPeriod: '2099-01', lastTradeAt: '2099-01-01T00:00:00.001Z' }, 'VALIDATION_FAILED', 'lastTradeAt'],
    ];
    for (const [change, code, field] of cases) {
      const response = await createInstrument({ modelClassId, kind: 'forward', ...change }).expect(400);
      expect(response.body).toMatchObject({ code, message: expect.stringContaining(field) });
    }
    expect(await rowsWritten()).toEqual(before);
  });

  test.each([
    ['modelClassId not a slug', { modelClassId: 'Bad_Slug' }, 'modelClassId'],
    ['kind unknown', { kind: 'future' }, 'kind'],
    ['kind missing', { kind: undefined }, 'kind'],
    ['tickSize a JSON number', { tickSize: 0.001 }, 'tickSize'],
    ['tickSize negative', { tickSize: '-0.001' }, 'tickSize'],
    ['tickSize zero', { tickSize: '0' }, 'tickSize'],
    ['tickSize finer than a micro-USD', { tickSize: '0.0000001' }, 'tickSize'],
    ['tickSize above 1000', { tickSize: '1000.5' }, 'tickSize'],
    ['tick × lot not a whole micro-USD (default lot)', { tickSize: '0.0005' }, 'lotSize'],
    ['tick × lot not a whole micro-USD (default tick)', { lotSize: 500 }, 'tickSize'],
    ['tick 0.000001 on the default lot', { tickSize: '0.000001' }, 'lotSize'],
    ['lotSize zero', { lotSize: 0 }, 'lotSize'],
    ['lotSize a fraction', { lotSize: 1000.5 }, 'lotSize'],
    ['makerFeeBps above 1000', { makerFeeBps: 1001 }, 'makerFeeBps'],
    ['takerFeeBps negative', { takerFeeBps: -1 }, 'takerFeeBps'],
    ['collarBps above 10000', { collarBps: 10_001 }, 'collarBps'],
    ['spotWindowSeconds zero', { spotWindowSeconds: 0 }, 'spotWindowSeconds'],
    ['spotWindowSeconds above 30 days', { spotWindowSeconds: 30 * 86_400 + 1 }, 'spotWindowSeconds'],
    ['bondBps above 10000', { bondBps: 10_001 }, 'bondBps'],
    ['bondBps a fraction', { bondBps: 12.5 }, 'bondBps'],
    ['a forward with a bondBps above 10000', { kind: 'forward', deliveryPeriod: '2099-01', bondBps: 10_001 }, 'bondBps'],
    ['a spot with an initialMarginBps', { initialMarginBps: 2000 }, 'initialMarginBps'],
    ['a spot with a maintenanceMarginBps', { maintenanceMarginBps: 1000 }, 'maintenanceMarginBps'],
    ['initialMarginBps zero', { kind: 'forward', deliveryPeriod: '2099-01', initialMarginBps: 0 }, 'initialMarginBps'],
    ['initialMarginBps above 10000', { kind: 'forward', deliveryPeriod: '2099-01', initialMarginBps: 10_001 }, 'initialMarginBps'],
    ['initialMarginBps a string', { kind: 'forward', deliveryPeriod: '2099-01', initialMarginBps: '2000' }, 'initialMarginBps'],
    ['maintenanceMarginBps zero', { kind: 'forward', deliveryPeriod: '2099-01', maintenanceMarginBps: 0 }, 'maintenanceMarginBps'],
    ['maintenanceMarginBps above initialMarginBps', { kind: 'forward', deliveryPeriod: '2099-01', initialMarginBps: 1500, maintenanceMarginBps: 1501 }, 'maintenanceMarginBps'],
    ['maintenanceMarginBps above the default initial', { kind: 'forward', deliveryPeriod: '2099-01', maintenanceMarginBps: 2500 }, 'maintenanceMarginBps'],
    ['a spot with a deliveryPeriod', { deliveryPeriod: '2099-01' }, 'deliveryPeriod'],
    ['a spot with a lastTradeAt', { lastTradeAt: '2099-01-01T00:00:00Z' }, 'lastTradeAt'],
    ['a forward without a deliveryPeriod', { kind: 'forward' }, 'deliveryPeriod'],
    ['a forward with a spotWindowSeconds', { kind: 'forward', deliveryPeriod: '2099-01', spotWindowSeconds: 3600 }, 'spotWindowSeconds'],
    ['month 13', { kind: 'forward', deliveryPeriod: '2099-13' }, 'deliveryPeriod'],
    ['week 54', { kind: 'forward', deliveryPeriod: '2099-W54' }, 'deliveryPeriod'],
    ['week 53 of a 52-week year', { kind: 'forward', deliveryPeriod: '2098-W53' }, 'deliveryPeriod'],
    ['a two-digit year', { kind: 'forward', deliveryPeriod: '99-01' }, 'deliveryPeriod'],
    ['a lower-case week', { kind: 'forward', deliveryPeriod: '2099-w03' }, 'deliveryPeriod'],
    ['a full date', { kind: 'forward', deliveryPeriod: '2099-01-01' }, 'deliveryPeriod'],
    ['lastTradeAt not a timestamp', { kind: 'forward', deliveryPeriod: '2099-01', lastTradeAt: 'tomorrow' }, 'lastTradeAt'],
    ['lastTradeAt without a time zone', { kind: 'forward', deliveryPeriod: '2099-01', lastTradeAt: '2098-12-31T12:00:00' }, 'lastTradeAt'],
    ['a symbol chosen by the client', { symbol: 'MINE-SPOT' }, 'symbol'],
  ])('bad instrument: %s is a 400 naming the field, nothing written', async (_, change, field) => {
    const modelClassId = await createModelClass();
    const before = await rowsWritten();
    const response = await createInstrument({ modelClassId, kind: 'spot', ...change }).expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', message: expect.stringContaining(field) });
    expect(await rowsWritten()).toEqual(before);
  });

  test('only admins list instruments', async () => {
    const modelClassId = await createModelClass();
    const before = await rowsWritten();
    for (const who of [buyer, provider]) {
      const refused = await t.http.post('/v1/admin/instruments').set(bearer(who.key)).send({ modelClassId, kind: 'spot' }).expect(403);
      expect(refused.body.code).toBe('ROLE_REQUIRED');
    }
    await t.http.post('/v1/admin/instruments').send({ modelClassId, kind: 'spot' }).expect(401);
    expect(await rowsWritten()).toEqual(before);
  });

  test('the list filters by kind, model class and status, page by page', async () => {
    const modelClassId = await createModelClass();
    const other = await createModelClass();
    const stem = modelClassId.toUpperCase();
    await createInstrument({ modelClassId, kind: 'spot' }).expect(201);
    for (const period of ['2099-01', '2099-02', '2099-W05']) await createInstrument({ modelClassId, kind: 'forward', deliveryPeriod: period }).expect(201);
    await createInstrument({ modelClassId: other, kind: 'spot' }).expect(201);
    await t.http.post(`/v1/admin/instruments/${stem}-2099-02/halt`).set(bearer(t.adminKey)).send({ reason: 'test' }).expect(200);

    const symbols = async (query: string) => (await listAll(`/v1/instruments?${query}`, 2)).map((i) => i.symbol);
    expect(await symbols(`modelClass=${modelClassId}`)).toEqual([`${stem}-SPOT`, `${stem}-2099-01`, `${stem}-2099-02`, `${stem}-2099-W05`]);
    expect(await symbols(`modelClass=${modelClassId}&kind=forward`)).toEqual([`${stem}-2099-01`, `${stem}-2099-02`, `${stem}-2099-W05`]);
    expect(await symbols(`modelClass=${modelClassId}&kind=forward&status=active`)).toEqual([`${stem}-2099-01`, `${stem}-2099-W05`]);
    expect(await symbols(`modelClass=${modelClassId}&status=halted`)).toEqual([`${stem}-2099-02`]);
    expect(await symbols('kind=spot')).toEqual(expect.arrayContaining([`${stem}-SPOT`, `${other.toUpperCase()}-SPOT`]));

    for (const [query, field] of [['kind=future', 'kind'], ['status=closed', 'status'], ['modelClass=NOT_A_SLUG', 'modelClass'], ['limit=1001', 'limit'], ['sort=symbol', 'sort']]) {
      const response = await t.http.get(`/v1/instruments?${query}`).expect(400);
      expect(response.body.message).toContain(field);
    }
  });

  test('halt and resume: audited, idempotent, visible to everyone', async () => {
    const modelClassId = await createModelClass();
    const symbol = `${modelClassId.toUpperCase()}-SPOT`;
    await createInstrument({ modelClassId, kind: 'spot' }).expect(201);
    const markets = t.app.get(MarketsService);
    const audit = () => t.dataSource.query(`SELECT action, details FROM audit_events WHERE subject_type = 'instrument' AND subject_id = $1 ORDER BY id`, [symbol]);

    const halted = await t.http.post(`/v1/admin/instruments/${symbol}/halt`).set(bearer(t.adminKey)).send({ reason: 'node outage' }).expect(200);
    expect(halted.body).toMatchObject({ symbol, status: 'halted', haltReason: 'node outage', haltedAt: expect.any(String) });
    expect((await t.http.get(`/v1/instruments/${symbol}`).expect(200)).body.status).toBe('halted');
    expect(await markets.instrument(symbol)).toMatchObject({ status: 'halted' });
    expect((await markets.listActiveInstruments()).map((i) => i.symbol)).not.toContain(symbol);

    // Halting again changes nothing, not even the reason, and is not recorded again.
    const again = await t.http.post(`/v1/admin/instruments/${symbol}/halt`).set(bearer(t.adminKey)).send({ reason: 'another reason' }).expect(200);
    expect(again.body).toEqual(halted.body);

    const resumed = await t.http.post(`/v1/admin/instruments/${symbol}/resume`).set(bearer(t.adminKey)).send({ reason: 'node back' }).expect(200);
    expect(resumed.body).toMatchObject({ status: 'active', haltReason: null, haltedAt: null });
    const resumedAgain = await t.http.post(`/v1/admin/instruments/${symbol}/resume`).set(bearer(t.adminKey)).send({ reason: 'twice' }).expect(200);
    expect(resumedAgain.body).toEqual(resumed.body);
    expect(await audit()).toEqual([
      { action: 'instrument.create', details: expect.objectContaining({ symbol }) },
      { action: 'instrument.halt', details: { reason: 'node outage' } },
      { action: 'instrument.resume', details: { reason: 'node back' } },
    ]);
  });

  test('halt and resume: only admins, a reason, an existing symbol', async () => {
    const modelClassId = await createModelClass();
    const symbol = `${modelClassId.toUpperCase()}-SPOT`;
    await createInstrument({ modelClassId, kind: 'spot' }).expect(201);
    for (const action of ['halt', 'resume']) {
      for (const who of [buyer, provider]) {
        await t.http.post(`/v1/admin/instruments/${symbol}/${action}`).set(bearer(who.key)).send({ reason: 'x' }).expect(403);
      }
      const noReason = await t.http.post(`/v1/admin/instruments/${symbol}/${action}`).set(bearer(t.adminKey)).send({}).expect(400);
      expect(noReason.body.message).toContain('reason');
      const blank = await t.http.post(`/v1/admin/instruments/${symbol}/${action}`).set(bearer(t.adminKey)).send({ reason: '   ' }).expect(400);
      expect(blank.body.message).toContain('reason');
      const extra = await t.http.post(`/v1/admin/instruments/${symbol}/${action}`).set(bearer(t.adminKey)).send({ reason: 'x', until: 'later' }).expect(400);
      expect(extra.body.message).toContain('until');
      const unknown = await t.http.post(`/v1/admin/instruments/NOPE-${PREFIX.toUpperCase()}-SPOT/${action}`).set(bearer(t.adminKey)).send({ reason: 'x' }).expect(404);
      expect(unknown.body.code).toBe('INSTRUMENT_NOT_FOUND');
      const malformed = await t.http.post(`/v1/admin/instruments/bad%20symbol/${action}`).set(bearer(t.adminKey)).send({ reason: 'x' }).expect(400);
      expect(malformed.body.message).toContain('symbol');
    }
    expect((await t.http.get(`/v1/instruments/${symbol}`).expect(200)).body.status).toBe('active');
  });

  test('the OpenAPI document describes the new routes', async () => {
    const { body } = await t.http.get('/docs-json').expect(200);
    for (const path of ['/v1/model-classes', '/v1/model-classes/{id}', '/v1/admin/model-classes', '/v1/instruments', '/v1/instruments/{symbol}', '/v1/admin/instruments', '/v1/admin/instruments/{symbol}/halt', '/v1/admin/instruments/{symbol}/resume', '/v1/admin/forward-series', '/v1/admin/forward-series/{id}']) {
      expect(Object.keys(body.paths)).toContain(path);
    }
    // Forward-only terms are optional in the instrument view: a spot view does not carry them.
    const view = body.components.schemas.InstrumentView;
    for (const field of ['deliveryDays', 'initialMarginBps', 'maintenanceMarginBps', 'quantityUnit']) {
      expect(Object.keys(view.properties)).toContain(field);
      expect(view.required).not.toContain(field);
    }
  });
});
