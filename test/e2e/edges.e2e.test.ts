import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { QUEUE_NAMES } from '../../src/platform/jobs/job-definitions.js';
import { bearer, createParticipant, startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('operations endpoints', () => {
  test('/health reports PostgreSQL, Redis and the queues', async () => {
    const response = await t.http.get('/health').expect(200);
    expect(response.body).toMatchObject({
      status: 'ok',
      postgres: { ok: true },
      redis: { ok: true },
      queues: QUEUE_NAMES.map((queue) => expect.objectContaining({ queue, failed: expect.any(Number) })),
    });
  });

  test('/metrics serves Prometheus text with latency by route, queue depths and ledger totals', async () => {
    await t.http.get('/v1/me').set(bearer(t.adminKey)).expect(200);
    const response = await t.http.get('/metrics').expect(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.text).toMatch(/tokex_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/me"/);
    expect(response.text).toMatch(/tokex_queue_jobs\{queue="ledger",state="waiting"\} \d+/);
    expect(response.text).toMatch(/tokex_ledger_balance_micro_usd\{kind="external"\}/);
    expect(response.text).toContain('tokex_process_');
  });

  test('/docs serves Swagger UI and /docs-json the OpenAPI document of the real routes and DTOs', async () => {
    await t.http.get('/docs').expect(200);
    const response = await t.http.get('/docs-json').expect(200);
    const paths = Object.keys(response.body.paths);
    for (const path of ['/v1/participants', '/v1/me', '/v1/admin/deposits', '/v1/withdrawals', '/v1/admin/ledger/trial-balance', '/health']) {
      expect(paths).toContain(path);
    }
    const schemas = response.body.components.schemas;
    expect(schemas.CreateWithdrawalDto.required).toEqual(['amount']);
    expect(schemas.CreateParticipantDto.properties.roles.items.enum).toEqual(['provider', 'buyer', 'admin']);
    expect(response.body.paths['/v1/withdrawals'].post.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]),
    );
  });

  test('security headers are set and every answer carries its request id', async () => {
    const response = await t.http.get('/health').set('x-request-id', 'trace-abc.1').expect(200);
    expect(response.headers['x-request-id']).toBe('trace-abc.1');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    const generated = await t.http.get('/health').expect(200);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('the error format of api.md', () => {
  test('an unknown route is a 404 in the standard shape', async () => {
    const response = await t.http.get('/v1/nothing-here').set(bearer(t.adminKey)).expect(404);
    expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', message: expect.any(String), code: 'NOT_FOUND' });
  });

  test('malformed JSON is a 400, not a 500', async () => {
    const response = await t.http
      .post('/v1/withdrawals')
      .set(bearer(t.adminKey))
      .set('content-type', 'application/json')
      .send('{"amount": ')
      .expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'INVALID_BODY' });
  });

  test('a body that is not JSON is refused with a 4xx', async () => {
    const response = await t.http.post('/v1/withdrawals').set(bearer(t.adminKey)).set('content-type', 'text/plain').send('amount=5');
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.body.code).toEqual(expect.any(String));
  });
});

describe('per-participant rate limits, counted in Redis', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ RATE_LIMIT_PER_SECOND: '5' });
  });
  afterAll(async () => {
    await limited.close();
  });

  test('past the limit a participant gets 429 with Retry-After; other participants are unaffected', async () => {
    const t = limited;
    const bot = await createParticipant(t, ['buyer']);
    const other = await createParticipant(t, ['buyer']);
    // Twelve requests at once: a window holds five and they span at most two windows, so at least two are refused.
    const responses = await Promise.all(Array.from({ length: 12 }, () => t.http.get('/v1/me').set(bearer(bot.key))));
    const refused = responses.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0].body).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(refused[0].headers['retry-after']).toBe('1');
    expect(responses.find((r) => r.status === 200)!.headers['x-ratelimit-limit']).toBe('5');
    await t.http.get('/v1/me').set(bearer(other.key)).expect(200);
  });
});
