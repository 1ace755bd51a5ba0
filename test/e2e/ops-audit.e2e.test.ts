import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consoleGet, signInToConsole } from '../support/ops-console.js';
import { bearer, createParticipant, startTestApp, type TestApp } from '../support/test-app.js';

// The audit log: GET /v1/admin/audit-events and the console's /ops/audit, newest first, by cursor,
// filtered by actor, action and subject, with who, what, on what, why and when.
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const admin = () => bearer(t.adminKey);

describe('GET /v1/admin/audit-events', () => {
  test('newest first, paged by cursor, filtered by actor, action and subject; reasons shown', async () => {
    const who = await createParticipant(t, ['buyer']);
    await t.http.post(`/v1/admin/participants/${who.id}/suspend`).set(admin()).send({ reason: 'first look' }).expect(200);
    await t.http.post(`/v1/admin/participants/${who.id}/resume`).set(admin()).send({ reason: 'all clear' }).expect(200);

    const onIt = await t.http.get(`/v1/admin/audit-events?subjectType=participant&subject=${who.id}`).set(admin()).expect(200);
    expect(onIt.body.items.map((e: { action: string }) => e.action)).toEqual(['participant.resume', 'participant.suspend', 'participant.create']);
    expect(onIt.body.items[0]).toMatchObject({ reason: 'all clear', subjectType: 'participant', subjectId: who.id, actorId: expect.any(String), createdAt: expect.any(String) });

    const page1 = await t.http.get(`/v1/admin/audit-events?subject=${who.id}&limit=2`).set(admin()).expect(200);
    expect(page1.body.items).toHaveLength(2);
    const page2 = await t.http.get(`/v1/admin/audit-events?subject=${who.id}&limit=2&cursor=${page1.body.nextCursor}`).set(admin()).expect(200);
    expect(page2.body).toMatchObject({ items: [{ action: 'participant.create' }], nextCursor: null });

    const suspensions = await t.http.get('/v1/admin/audit-events?action=participant.suspend').set(admin()).expect(200);
    expect(suspensions.body.items.every((e: { action: string }) => e.action === 'participant.suspend')).toBe(true);
    const ids = suspensions.body.items.map((e: { id: string }) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a: bigint, b: bigint) => (a > b ? -1 : 1)));

    const other = await createParticipant(t, ['admin']);
    await t.http.post(`/v1/admin/participants/${who.id}/api-keys`).set(bearer(other.key)).send({ reason: 'by the other admin' }).expect(201);
    const byOther = await t.http.get(`/v1/admin/audit-events?actor=${other.id}`).set(admin()).expect(200);
    expect(byOther.body.items).toMatchObject([{ action: 'api-key.create', actorId: other.id, reason: 'by the other admin' }]);
  });

  test('bad filters are 400 naming the field; other roles 403', async () => {
    expect((await t.http.get('/v1/admin/audit-events?actor=nobody').set(admin()).expect(400)).body.message).toContain('actor');
    expect((await t.http.get('/v1/admin/audit-events?action=DROP%20TABLE').set(admin()).expect(400)).body.message).toContain('action');
    await t.http.get('/v1/admin/audit-events?cursor=nonsense').set(admin()).expect(400);
    await t.http.get('/v1/admin/audit-events?extra=1').set(admin()).expect(400);
    const buyer = await createParticipant(t, ['buyer']);
    await t.http.get('/v1/admin/audit-events').set(bearer(buyer.key)).expect(403);
  });
});

describe('console: /ops/audit', () => {
  test('each row shows who by name, what, on what, why and when; filters and a Next link', async () => {
    const session = await signInToConsole(t);
    const who = await createParticipant(t, ['provider'], 'Audited Ltd');
    await t.http.post(`/v1/admin/participants/${who.id}/suspend`).set(admin()).send({ reason: 'why <not>' }).expect(200);

    const page = await consoleGet(t, session, `/ops/audit?subjectType=participant&subject=${who.id}&actor=&action=`).expect(200);
    const rows = page.text.split('data-testid="audit-row"').slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('data-action="participant.suspend"');
    expect(rows[0]).toMatch(/data-testid="audit-actor"><a href="\/ops\/audit\?actor=[0-9a-f-]+">Bootstrap admin<\/a>/);
    expect(rows[0]).toContain(`<a href="/ops/participants/${who.id}">Audited Ltd</a>`);
    expect(rows[0]).toContain('data-testid="audit-reason">why &lt;not&gt;<');
    expect(rows[0]).toMatch(/<time>\d{4}-\d\d-\d\dT/);

    const byAction = await consoleGet(t, session, '/ops/audit?action=participant.suspend').expect(200);
    expect(byAction.text.match(/data-action="participant\.suspend"/g)!.length).toBe(byAction.text.match(/data-testid="audit-row"/g)!.length);

    const first = await consoleGet(t, session, '/ops/audit?limit=1').expect(200);
    const next = /href="([^"]+)" data-testid="next-page"/.exec(first.text)![1].replace(/&amp;/g, '&');
    const second = await consoleGet(t, session, next).expect(200);
    expect(second.text).toContain('data-testid="audit-row"');
    await consoleGet(t, session, '/ops/audit?actor=nobody').expect(400);
  });
});
