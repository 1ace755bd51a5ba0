import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { consoleGet, signInToConsole, type ConsoleSession } from '../support/ops-console.js';
import { bearer, createParticipant, deposit, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

// The ledger in the admin API and the ops console: a participant's accounts and statement, and any
// transfer by id with both of its accounts. Money is the API's decimal strings throughout.
let t: TestApp;
let session: ConsoleSession;

beforeAll(async () => {
  t = await startTestApp();
  session = await signInToConsole(t);
});
afterAll(async () => {
  await t.close();
});

/** A buyer named uniquely with two deposits (10 and 2.5 USD) and a withdrawal of 1.25 paid out: a hold, then its post. */
async function participantWithHistory(): Promise<{ who: TestParticipant; name: string; withdrawalId: string }> {
  const name = `Ledger Co ${randomUUID().slice(0, 8)}`;
  const who = await createParticipant(t, ['buyer'], name);
  await deposit(t, who.id, '10');
  await deposit(t, who.id, '2.5');
  const withdrawal = await t.http.post('/v1/withdrawals').set(bearer(who.key)).send({ amount: '1.25' }).expect(201);
  await t.http.post(`/v1/admin/withdrawals/${withdrawal.body.id}/paid`).set(bearer(t.adminKey)).send({ note: 'wire 42' }).expect(200);
  return { who, name, withdrawalId: withdrawal.body.id };
}

describe('GET /v1/admin/participants/:id/ledger', () => {
  test("a participant's accounts with their balances and its transfers, newest first, paged by cursor", async () => {
    const { who, withdrawalId } = await participantWithHistory();
    const first = (await t.http.get(`/v1/admin/participants/${who.id}/ledger?limit=2`).set(bearer(t.adminKey)).expect(200)).body;
    expect(first.balances).toEqual({ available: '11.250000', held: '0.000000', escrow: '0.000000', margin: '0.000000', bond: '0.000000' });
    expect(first.accounts.map((a: { kind: string }) => a.kind).sort()).toEqual(['available', 'bond', 'escrow', 'held', 'margin']);
    expect(first.accounts.find((a: { kind: string }) => a.kind === 'available')).toMatchObject({ participantId: who.id, balance: '11.250000', pendingDebits: '0.000000' });
    expect(first.transfers.items).toEqual([
      expect.objectContaining({ id: `withdrawal:${withdrawalId}:paid`, account: 'available', amount: '-1.250000', phase: 'posted' }),
      expect.objectContaining({ id: `withdrawal:${withdrawalId}:hold`, account: 'available', amount: '-1.250000', phase: 'pending' }),
    ]);
    const rest = (await t.http.get(`/v1/admin/participants/${who.id}/ledger?limit=2&cursor=${first.transfers.nextCursor}`).set(bearer(t.adminKey)).expect(200)).body;
    expect(rest.transfers.items.map((i: { amount: string }) => i.amount)).toEqual(['2.500000', '10.000000']);
    expect(rest.transfers.nextCursor).toBeNull();
  });

  test('an unknown participant is a 404, a malformed id a 400, and the route is for admins only', async () => {
    const { who } = await participantWithHistory();
    expect((await t.http.get(`/v1/admin/participants/${randomUUID()}/ledger`).set(bearer(t.adminKey)).expect(404)).body.code).toBe('PARTICIPANT_NOT_FOUND');
    expect((await t.http.get('/v1/admin/participants/nope/ledger').set(bearer(t.adminKey)).expect(400)).body.message).toContain('id');
    await t.http.get(`/v1/admin/participants/${who.id}/ledger`).set(bearer(who.key)).expect(403);
  });
});

describe('GET /v1/admin/ledger/transfers/:id', () => {
  test('a transfer with both accounts (owners and kinds), amount, code, reference and flags; a hold and its post name each other', async () => {
    const { who, withdrawalId } = await participantWithHistory();
    const hold = (await t.http.get(`/v1/admin/ledger/transfers/withdrawal:${withdrawalId}:hold`).set(bearer(t.adminKey)).expect(200)).body;
    expect(hold).toMatchObject({
      id: `withdrawal:${withdrawalId}:hold`,
      amount: '1.250000',
      code: 'withdrawal',
      ref: withdrawalId,
      flags: ['pending'],
      phase: 'pending',
      debit: { kind: 'available', participantId: who.id },
      credit: { kind: 'external', participantId: null },
      pendingId: null,
      resolvedBy: { id: `withdrawal:${withdrawalId}:paid`, phase: 'posted', amount: '1.250000' },
    });
    const paid = (await t.http.get(`/v1/admin/ledger/transfers/${encodeURIComponent(`withdrawal:${withdrawalId}:paid`)}`).set(bearer(t.adminKey)).expect(200)).body;
    expect(paid).toMatchObject({ flags: ['post_pending'], phase: 'posted', pendingId: `withdrawal:${withdrawalId}:hold`, resolvedBy: null });
    expect((await t.http.get('/v1/admin/ledger/transfers/deposit:nothing').set(bearer(t.adminKey)).expect(404)).body.code).toBe('TRANSFER_NOT_FOUND');
    await t.http.get(`/v1/admin/ledger/transfers/withdrawal:${withdrawalId}:hold`).set(bearer(who.key)).expect(403);
  });
});

describe('the console', () => {
  test('the ledger page searches by id or by name and shows balances, accounts and transfers with a Next link', async () => {
    const { who, name, withdrawalId } = await participantWithHistory();
    const empty = await consoleGet(t, session, '/ops/ledger').expect(200);
    expect(empty.text).toContain('data-testid="ledger-search"');
    expect(empty.text).toContain('data-testid="transfer-lookup"');

    const byId = await consoleGet(t, session, `/ops/ledger?participant=${who.id}`).expect(200);
    expect(byId.text).toContain(`Ledger: ${name}`);
    expect(byId.text).toMatch(/data-testid="balance-available">11\.250000</);
    expect(byId.text).toContain(`data-testid="transfer-row" data-id="withdrawal:${withdrawalId}:paid"`);
    expect(byId.text).toContain(`href="/ops/ledger/transfers/${encodeURIComponent(`withdrawal:${withdrawalId}:hold`)}"`);

    const byName = await consoleGet(t, session, `/ops/ledger?participant=${encodeURIComponent(name.slice(-8).toUpperCase())}`).expect(200);
    expect(byName.text).toMatch(/data-testid="balance-available">11\.250000</);
    await createParticipant(t, ['buyer'], `${name} twin`);
    const two = await consoleGet(t, session, `/ops/ledger?participant=${encodeURIComponent(name)}`).expect(200);
    expect(two.text).toContain('data-testid="ledger-matches"');
    expect(two.text).toContain(`data-id="${who.id}"`);
    expect(two.text).not.toContain('data-testid="ledger-balances"');

    const paged = await consoleGet(t, session, `/ops/ledger?participant=${who.id}&limit=2`).expect(200);
    expect(paged.text).toContain(`data-id="withdrawal:${withdrawalId}:hold"`);
    expect(paged.text).not.toContain('>deposit<');
    const next = /href="([^"]+)" data-testid="next-page"/.exec(paged.text)![1].replace(/&amp;/g, '&');
    const older = await consoleGet(t, session, next).expect(200);
    expect(older.text.match(/data-testid="transfer-row"/g)).toHaveLength(2);
    expect(older.text).not.toContain(`data-id="withdrawal:${withdrawalId}:hold"`);
    expect(older.text).not.toContain('data-testid="next-page"');
    await consoleGet(t, session, `/ops/ledger?participant=${randomUUID()}`).expect(404);
    await consoleGet(t, session, `/ops/ledger?participant=${who.id}&cursor=garbage`).expect(400);
  });

  test("a transfer's page shows both accounts with their owners, and the hold it posted", async () => {
    const { name, withdrawalId } = await participantWithHistory();
    const paidId = `withdrawal:${withdrawalId}:paid`;
    const lookup = await consoleGet(t, session, `/ops/ledger/transfers?id=${encodeURIComponent(paidId)}`).expect(303);
    expect(lookup.headers.location).toBe(`/ops/ledger/transfers/${encodeURIComponent(paidId)}`);
    const page = await consoleGet(t, session, lookup.headers.location).expect(200);
    expect(page.text).toMatch(/data-testid="transfer-amount">1\.250000 USD</);
    expect(page.text).toMatch(new RegExp(`data-testid="transfer-debit">${name}’s <strong>available</strong>`));
    expect(page.text).toMatch(/data-testid="transfer-credit">the exchange’s <strong>external<\/strong>/);
    expect(page.text).toMatch(/data-testid="transfer-flags">post_pending</);
    expect(page.text).toContain(`data-testid="transfer-pending">withdrawal:${withdrawalId}:hold<`);
    const hold = await consoleGet(t, session, `/ops/ledger/transfers/${encodeURIComponent(`withdrawal:${withdrawalId}:hold`)}`).expect(200);
    expect(hold.text).toMatch(/data-testid="transfer-resolved-by"><a [^>]+>withdrawal:[^<]+:paid<\/a> \(posted, 1\.250000 USD/);
    await consoleGet(t, session, '/ops/ledger/transfers/deposit%3Anothing').expect(404);
  });
});
