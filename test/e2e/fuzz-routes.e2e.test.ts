import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { upcomingWeek } from '../support/forward-fixtures.js';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { prng } from '../support/prng.js';
import { bearer, createParticipant, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// "A 5xx on any input is a bug", over every route of the OpenAPI document: each operation gets
// bodies, queries and path parameters built from its schema, then broken (wrong types, nulls, huge
// and negative numbers, decimals, overlong and odd strings, arrays for objects, deep nesting, bad
// content types). Fixed seed, fixed budget: the same requests on every run.
const SEED = 14;
const REQUESTS_PER_OPERATION = 24;

interface Schema { type?: string; properties?: Record<string, Schema>; items?: Schema; enum?: unknown[]; $ref?: string; example?: unknown; format?: string; allOf?: Schema[] }
interface Operation { parameters?: Array<{ name: string; in: string; schema?: Schema }>; requestBody?: { content: Record<string, { schema: Schema }> } }

let t: TestApp;
let who: TestParticipant;
let ids: Record<string, string>;

beforeAll(async () => {
  t = await startTestApp();
  const { symbol, modelClassId } = await listSpotInstrument(t, 'fr');
  const forward = (await t.http.post('/v1/admin/instruments').set(bearer(t.adminKey)).send({ modelClassId, kind: 'forward', deliveryPeriod: upcomingWeek().period }).expect(201)).body.symbol;
  who = await createParticipant(t, ['buyer', 'provider', 'admin']);
  await deposit(t, who.id, '1000');
  ids = { symbol: forward, instrument: symbol, modelClass: modelClassId, id: who.id, participantId: who.id };
});
afterAll(async () => {
  await t.close();
});

const ODD_VALUES: unknown[] = [
  null, true, 0, -1, 1.5, -0.000001, 1e308, -1e308, 2 ** 63, Number.MAX_SAFE_INTEGER + 2, '', ' ', '0', '-1', '1e9', '0.0000001',
  '99999999999999999999999999', 'x'.repeat(5_000), 'a\u0000b', '\ud800', '\udfff', '😀', '../../etc', "'; DROP TABLE x;--", '2020-02-31T00:00:00Z',
  '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', randomUUID(), [], [1, 'a'], {}, { a: { b: 1 } },
];

/** A lone surrogate cannot be percent-encoded as UTF-8: send the bytes a careless client would. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

function deepNest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function fuzzRequests(document: { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } }) {
  const random = prng(SEED);
  const pick = <T,>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
  const resolve = (schema: Schema | undefined): Schema => {
    if (!schema) return {};
    if (schema.$ref) return resolve(document.components?.schemas?.[schema.$ref.split('/').pop()!]);
    if (schema.allOf) return Object.assign({}, ...schema.allOf.map(resolve));
    return schema;
  };
  const plausible = (schema: Schema | undefined, name = ''): unknown => {
    const s = resolve(schema);
    if (s.enum) return pick(s.enum);
    if (s.example !== undefined) return s.example;
    if (ids[name]) return ids[name];
    if (s.type === 'object' || s.properties) return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, plausible(v, k)]));
    if (s.type === 'array') return [plausible(s.items)];
    if (s.type === 'integer' || s.type === 'number') return pick([1, 1000, 1_000_000]);
    if (s.type === 'boolean') return pick([true, false]);
    if (s.format === 'uuid' || /Id$/.test(name)) return pick([who.id, randomUUID()]);
    return pick(['1', '0.450', 'abc', ids.instrument]);
  };
  /** The plausible body with one field (or the whole body) broken. */
  const broken = (body: unknown): unknown => {
    const roll = random();
    if (roll < 0.05) return deepNest(40 + Math.floor(random() * 200));
    if (roll < 0.1) return pick([[], [body], 'text', 42, null]);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return pick(ODD_VALUES);
    const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    const keys = Object.keys(copy);
    if (keys.length === 0 || roll < 0.15) copy[`x${Math.floor(random() * 100)}`] = pick(ODD_VALUES);
    else {
      const key = pick(keys);
      const nested = copy[key];
      copy[key] = nested && typeof nested === 'object' && random() < 0.5 ? broken(nested) : pick(ODD_VALUES);
    }
    return copy;
  };
  const requests: Array<{ method: string; path: string; body?: unknown; contentType?: string }> = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      for (let i = 0; i < REQUESTS_PER_OPERATION; i++) {
        const odd = () => { const v = pick(ODD_VALUES); return typeof v === 'string' ? v : JSON.stringify(v) ?? ''; };
        const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encode(random() < 0.6 ? String(plausible(undefined, name)) : odd() || 'x'));
        const query = (operation.parameters ?? []).filter((p) => p.in === 'query' && random() < 0.5)
          .map((p) => `${p.name}=${encode(random() < 0.5 ? String(plausible(p.schema, p.name)) : odd())}`);
        const roll = random();
        const contentType = roll < 0.05 ? pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/json; charset=latin1']) : undefined;
        requests.push({ method, path: query.length ? `${path}?${query.join('&')}` : path, body: schema ? broken(plausible(schema)) : undefined, contentType });
      }
    }
  }
  return requests;
}

describe('no input makes a 5xx, on any route', () => {
  test(`${REQUESTS_PER_OPERATION} requests per operation, seed ${SEED}`, async () => {
    const document = (await t.http.get('/docs-json').expect(200)).body;
    const requests = fuzzRequests(document);
    expect(requests.length).toBeGreaterThan(1_500);
    const failures: string[] = [];
    for (const r of requests) {
      let call = (t.http as unknown as Record<string, (path: string) => import('supertest').Test>)[r.method](r.path).set(bearer(who.key));
      if (r.body !== undefined) {
        call = call.set('content-type', r.contentType ?? 'application/json').send(JSON.stringify(r.body));
      }
      const response = await call;
      const named = typeof response.body?.message === 'string' && response.body.message.length > 0 && typeof response.body.code === 'string';
      if (response.status >= 500 || (response.status >= 400 && !named)) {
        failures.push(`${r.method.toUpperCase()} ${r.path.slice(0, 120)} ${JSON.stringify(r.body)?.slice(0, 160)} -> ${response.status} ${JSON.stringify(response.body).slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
