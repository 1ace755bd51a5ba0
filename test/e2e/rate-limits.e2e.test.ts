import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { generateApiKey } from '../../src/participants/api-key-secret.js';
import { fundedBuyer, listSpotInstrument } from '../support/market-fixtures.js';
import { StreamClient } from '../support/stream-client.js';
import { bearer, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Limits per participant, and for strangers (issue 14, item 6): a participant's keys share one
 * budget, and keys that are not known are limited per client address and do not reach
 * PostgreSQL every time.
 */
const unknownKey = () => `tkx_${randomBytes(24).toString('base64url')}`;

describe('the rate limit counts per participant, not per key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_SECOND: '5' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('eight keys of one participant share its five requests a second', async () => {
    const bot = await createParticipant(t, ['buyer']);
    const keys = [bot.key];
    // Written directly: through the API, the admin's own requests would meet its limit.
    for (let i = 1; i < 8; i++) {
      const key = generateApiKey();
      await t.dataSource.query(`INSERT INTO api_keys (participant_id, prefix, key_hash) VALUES ($1, $2, $3)`, [bot.id, key.prefix, key.hash]);
      keys.push(key.key);
    }
    const started = Date.now();
    const responses = await Promise.all(keys.flatMap((key) => Array.from({ length: 5 }, () => t.http.get('/v1/me').set(bearer(key)))));
    const elapsedMs = Date.now() - started;
    const served = responses.filter((r) => r.status === 200).length;
    // Fixed one-second windows: the requests span at most elapsed/1s + 2 of them, five each.
    expect(served).toBeLessThanOrEqual(5 * (Math.floor(elapsedMs / 1000) + 2));
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED', message: 'more than 5 requests per second for this participant' });
  });

  test('GET /v1/me/rate-limit shows the budget left after itself, as the headers do', async () => {
    const bot = await createParticipant(t, ['buyer']);
    const before = Date.now();
    const response = await t.http.get('/v1/me/rate-limit').set(bearer(bot.key)).expect(200);
    expect(response.body).toMatchObject({ limit: 5, remaining: 4 });
    expect(response.headers['x-ratelimit-remaining']).toBe('4');
    const resetsAt = Date.parse(response.body.resetsAt);
    expect(resetsAt).toBeGreaterThan(before);
    expect(resetsAt).toBeLessThanOrEqual(Date.now() + 1000);
    await t.http.get('/v1/me/rate-limit').expect(401);
  });
});

describe('batches and stream orders spend the same budget, a unit per command', () => {
  let t: TestApp;
  /** The same database without a limit, so that the admin's setup never meets the limit under test. */
  let setup: TestApp;
  let symbol: string;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_SECOND: '5' });
    setup = await startTestApp();
    ({ symbol } = await listSpotInstrument(setup, 'rl'));
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await Promise.all([t.close(), setup.close()]);
  });

  test('without a limit, GET /v1/me/rate-limit says so', async () => {
    const bot = await createParticipant(setup, ['buyer']);
    const response = await setup.http.get('/v1/me/rate-limit').set(bearer(bot.key)).expect(200);
    expect(response.body).toEqual({ limit: 0, remaining: null, resetsAt: null });
  });

  test('a batch costs one request per command: six commands are over a limit of five, and nothing runs', async () => {
    const bot = await fundedBuyer(setup, '10');
    const bid = { op: 'place', instrument: symbol, side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 };
    const refused = await t.http.post('/v1/orders/batch').set(bearer(bot.key)).send({ commands: Array(6).fill(bid) }).expect(429);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.headers['retry-after']).toBe('1');
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM orders WHERE participant_id = $1`, [bot.id]);
    expect(count).toBe(0);
  });

  test('each order sent over the stream costs one request of the same budget', async () => {
    const bot = await fundedBuyer(setup, '100');
    const stream = await StreamClient.open(await t.app.getUrl());
    await stream.request({ op: 'auth', apiKey: bot.key }, 'authenticated');
    const from = stream.received.length;
    const started = Date.now();
    for (let i = 0; i < 20; i++) stream.send({ op: 'place', id: i, instrument: symbol, side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 });
    const answers = await stream.until('20 answers', () => {
      const got = stream.received.slice(from).filter((m) => typeof m.id === 'number');
      return got.length === 20 ? got : undefined;
    });
    const elapsedMs = Date.now() - started;
    const served = answers.filter((m) => m.op === 'placed').length;
    expect(served).toBeLessThanOrEqual(5 * (Math.floor(elapsedMs / 1000) + 2));
    for (const m of answers.filter((a) => a.op !== 'placed')) expect(m).toMatchObject({ op: 'error', statusCode: 429, code: 'RATE_LIMITED' });
    stream.close();
  });
});

describe('unknown API keys', () => {
  let t: TestApp;
  let keyLookups: () => number;
  beforeAll(async () => {
    // Behind one proxy, as in production: the client's address is the one X-Forwarded-For names.
    t = await startTestApp({ AUTH_FAILURES_PER_MINUTE: '5', TRUST_PROXY_HOPS: '1', API_KEY_CACHE_TTL_MS: '60000' });
    const query = jest.spyOn(t.dataSource, 'query'); // counts, and calls the real method
    keyLookups = () => query.mock.calls.filter(([sql]) => /FROM api_keys k JOIN participants/.test(String(sql))).length;
  });
  afterAll(async () => {
    await t.close();
  });

  test('a key found unknown is remembered: asking again does not reach PostgreSQL', async () => {
    const key = unknownKey();
    const before = keyLookups();
    for (let i = 0; i < 10; i++) {
      // from ten addresses, so the address limit plays no part
      const answer = await t.http.get('/v1/me').set(bearer(key)).set('x-forwarded-for', `198.51.100.${i + 1}`).expect(401);
      expect(answer.body.code).toBe('INVALID_API_KEY');
    }
    expect(keyLookups() - before).toBe(1);
  });

  test('an address presenting many unknown keys gets 429s without lookups; other addresses and known keys are unaffected', async () => {
    const before = keyLookups();
    const from = (address: string) => ({ authorization: `Bearer ${unknownKey()}`, 'x-forwarded-for': address });
    const answers = await Promise.all(Array.from({ length: 30 }, () => t.http.get('/v1/me').set(from('203.0.113.7'))));
    const refused = answers.filter((a) => a.status === 429);
    // Five a minute; the thirty span at most two minutes' windows.
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(10);
    expect(refused.length).toBeGreaterThanOrEqual(20);
    expect(refused[0].body).toMatchObject({ code: 'TOO_MANY_FAILED_AUTHENTICATIONS', message: 'more than 5 unknown API keys a minute from this address' });
    expect(Number(refused[0].headers['retry-after'])).toBeGreaterThan(0);
    expect(keyLookups() - before).toBeLessThanOrEqual(10);
    // another address has its own budget; a known key from it is served
    await t.http.get('/v1/me').set(from('203.0.113.8')).expect(401);
    const buyer = await createParticipant(t, ['buyer']);
    await t.http.get('/v1/me').set(bearer(buyer.key)).set('x-forwarded-for', '203.0.113.8').expect(200);
  });
});

describe('valid keys and the limit for strangers', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No key cache: every request reads its key from PostgreSQL, as all do when the cache's TTL ends at once.
    t = await startTestApp({ AUTH_FAILURES_PER_MINUTE: '5', TRUST_PROXY_HOPS: '1', API_KEY_CACHE_TTL_MS: '0' });
  });
  afterAll(async () => {
    await t.close();
  });

  test("a busy client's keys, read again all at once, never meet the limit for unknown keys", async () => {
    const bots: TestParticipant[] = [];
    for (let i = 0; i < 12; i++) {
      const bot = await createParticipant(t, ['buyer']);
      await t.http.get('/v1/me').set(bearer(bot.key)).expect(200); // each verified once
      bots.push(bot);
    }
    const answers = await Promise.all(bots.flatMap((bot) => [1, 2, 3].map(() => t.http.get('/v1/me').set(bearer(bot.key)))));
    expect(answers.map((a) => a.status)).toEqual(Array(36).fill(200));
    // Strangers from the same address still meet it.
    const guesses = await Promise.all(Array.from({ length: 12 }, () => t.http.get('/v1/me').set(bearer(unknownKey()))));
    expect(guesses.filter((g) => g.status === 429).length).toBeGreaterThan(0);
  });

  test('valid keys refused in a burst of first uses are served as soon as the burst is verified, not a minute later', async () => {
    // Keys never seen here are counted while they are checked. Twenty at once from one address,
    // with the key lookups held on a lock, exceed a limit of five: the rest are refused at once.
    const bots: TestParticipant[] = [];
    for (let i = 0; i < 20; i++) bots.push(await createParticipant(t, ['buyer']));
    const lock = t.dataSource.createQueryRunner();
    await lock.connect();
    await lock.startTransaction();
    await lock.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    const answered: number[] = [];
    const burst = Promise.all(
      bots.map((bot) =>
        t.http
          .get('/v1/me')
          .set(bearer(bot.key))
          .set('x-forwarded-for', '192.0.2.50')
          .then((a) => answered.push(a.status)),
      ),
    );
    await waitFor('every request refused, or its key lookup waiting on the lock', async () => {
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM api_keys k%'`);
      return n + answered.length === 20 ? true : undefined;
    });
    await lock.commitTransaction();
    await lock.release();
    await burst;
    // Five a minute's window; a minute ending during the burst would open a second one.
    const verified = answered.filter((s) => s === 200).length;
    expect(verified).toBeGreaterThanOrEqual(5);
    expect(verified).toBeLessThanOrEqual(10);
    expect(answered.filter((s) => s === 429)).toHaveLength(20 - verified);
    // A refusal is not a failure: with the five verified, the address's count is back to nothing.
    for (const bot of bots) await t.http.get('/v1/me').set(bearer(bot.key)).set('x-forwarded-for', '192.0.2.50').expect(200);
  });
});
