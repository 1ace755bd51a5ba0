import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consoleGet, consolePost, signInToConsole } from '../support/ops-console.js';
import { bearer, countRows, createParticipant, startTestApp, type TestApp } from '../support/test-app.js';

// The ops console's door: sign-in with an admin key on a form, the signed session cookie, CSRF on
// every POST, and what a session may not outlive (revocation, suspension, sign-out).
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('signing in', () => {
  test('a page without a session sends the browser to the sign-in form; the form never carries the key in a URL', async () => {
    const page = await t.http.get('/ops').expect(303);
    expect(page.headers.location).toBe('/ops/sign-in');
    const form = await t.http.get('/ops/sign-in').expect(200);
    expect(form.text).toMatch(/<form method="post" action="\/ops\/sign-in"/);
    expect(form.text).toMatch(/type="password"/);
  });

  test('an admin key opens a session: an httpOnly, SameSite=Strict, signed cookie that expires; the key appears nowhere', async () => {
    const form = await t.http.get('/ops/sign-in').expect(200);
    const csrfCookie = (form.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
    const signedIn = await t.http.post('/ops/sign-in').set('Cookie', csrfCookie).type('form').send({ apiKey: t.adminKey, _csrf: csrf }).expect(303);
    expect(signedIn.headers.location).toBe('/ops');
    const session = (signedIn.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('tokex_ops='))!;
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Strict/i);
    expect(session).toMatch(/Max-Age=\d+/);
    expect(session).toMatch(/Path=\/ops/);
    expect(session).not.toContain(t.adminKey);
    const page = await t.http.get('/ops').set('Cookie', [...csrfCookie, session.split(';')[0]]).expect(200);
    expect(page.text).toContain('Overview');
    expect(page.text).not.toContain(t.adminKey);
  });

  test('a wrong key and a non-admin key are refused on the form, and no session is set', async () => {
    const buyer = await createParticipant(t, ['buyer']);
    for (const [apiKey, status, message] of [
      ['tkx_not_a_real_key_0000000000000000000000', 401, /unknown or revoked/],
      [buyer.key, 403, /for admins/],
    ] as const) {
      const form = await t.http.get('/ops/sign-in').expect(200);
      const csrfCookie = (form.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
      const refused = await t.http.post('/ops/sign-in').set('Cookie', csrfCookie).type('form').send({ apiKey, _csrf: csrf }).expect(status);
      expect(refused.text).toMatch(message);
      expect(refused.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringMatching(/^tokex_ops=/)]));
    }
  });

  test('a forged or tampered session cookie is no session', async () => {
    const session = await signInToConsole(t);
    const tampered = session.cookie.map((c) => (c.startsWith('tokex_ops=') ? c.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')) : c));
    await t.http.get('/ops').set('Cookie', tampered).expect(303);
    const forged = `tokex_ops=${Buffer.from(JSON.stringify({ k: '00000000-0000-0000-0000-000000000000', e: Date.now() + 60_000 })).toString('base64url')}`;
    await t.http.get('/ops').set('Cookie', [forged]).expect(303);
  });
});

describe('CSRF and the session\'s end', () => {
  test('a form posted without its CSRF token, or with another, is refused and changes nothing', async () => {
    const session = await signInToConsole(t);
    const audits = await countRows(t, 'audit_events');
    await t.http.post('/ops/sign-out').set('Cookie', session.cookie).type('form').send({}).expect(403);
    await t.http.post('/ops/sign-out').set('Cookie', session.cookie).type('form').send({ _csrf: 'forged-token' }).expect(403);
    expect(await countRows(t, 'audit_events')).toBe(audits);
    await consoleGet(t, session, '/ops').expect(200);
  });

  test('signing out ends the session and is written to the audit trail', async () => {
    const session = await signInToConsole(t);
    const out = await consolePost(t, session, '/ops/sign-out', {}).expect(303);
    expect(out.headers.location).toBe('/ops/sign-in');
    const cleared = (out.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('tokex_ops='))!;
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970|Max-Age=0/);
    const [event] = await t.dataSource.query(`SELECT action FROM audit_events WHERE action = 'ops.sign_out' ORDER BY id DESC LIMIT 1`);
    expect(event).toEqual({ action: 'ops.sign_out' });
  });

  test('revoking the key, or suspending the admin, ends the session at once', async () => {
    const admin = await createParticipant(t, ['admin']);
    const session = await signInToConsole(t, admin.key);
    await t.http.delete(`/v1/api-keys/${admin.keyId}`).set(bearer(t.adminKey)).expect(200);
    await consoleGet(t, session, '/ops').expect(303);

    const other = await createParticipant(t, ['admin']);
    const second = await signInToConsole(t, other.key);
    await t.http.patch(`/v1/participants/${other.id}`).set(bearer(t.adminKey)).send({ status: 'suspended', reason: 'test' }).expect(200);
    await consoleGet(t, second, '/ops').expect(303);
  });

  test('the queue board is behind the same session', async () => {
    await t.http.get('/ops/queues').expect(303);
    const session = await signInToConsole(t);
    const board = await consoleGet(t, session, '/ops/queues').expect(200);
    expect(board.text).toContain('tokex queues');
    const api = await consoleGet(t, session, '/ops/queues/api/queues').expect(200);
    expect(api.body.queues.map((q: { name: string }) => q.name)).toEqual(expect.arrayContaining(['settlement', 'metering', 'forwards']));
  });
});

describe('the overview', () => {
  test('shows the markets, the spot index, the queues and the ledger: the trial balance reads zero', async () => {
    const session = await signInToConsole(t);
    await t.http.post('/v1/admin/ledger/audit').set(bearer(t.adminKey)).expect(200);
    const page = await consoleGet(t, session, '/ops').expect(200);
    expect(page.text).toMatch(/data-testid="trial-balance">0\.000000</);
    expect(page.text).toMatch(/Last audit: <strong class="good">sound<\/strong>/);
    expect(page.text).toContain('settlement');
    const health = await consoleGet(t, session, '/ops/overview/health').expect(200);
    expect(health.text).toContain('id="health"');
    await consoleGet(t, session, '/ops?interval=2h').expect(400);
  });
});
