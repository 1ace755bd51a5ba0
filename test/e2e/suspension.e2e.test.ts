import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { meteredDelivery, postUsageBatch, usageRecord } from '../support/metering-fixtures.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

// Issue 14 item 4: suspension takes effect everywhere.
let t: TestApp;
let symbol: string;
let modelClassId: string;

beforeAll(async () => {
  t = await startTestApp();
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'susp', { spotWindowSeconds: 60 }));
});
afterAll(async () => {
  await t.close();
});

const suspend = (participantId: string) =>
  t.http.post(`/v1/admin/participants/${participantId}/suspend`).set(bearer(t.adminKey)).send({ reason: 'issue 14 test' }).expect(200);

describe("a suspended provider's nodes", () => {
  test('their usage batches are refused with a 403 naming why, and nothing is stored', async () => {
    const { provider, node, deliveryId, keyId } = await meteredDelivery(t, { symbol, modelClassId });
    await postUsageBatch(t, node, [usageRecord(modelClassId, deliveryId, keyId)]).expect(202);
    await suspend(provider.id);
    const refused = await postUsageBatch(t, node, [usageRecord(modelClassId, deliveryId, keyId)], randomUUID()).expect(403);
    expect(refused.body).toMatchObject({ code: 'PARTICIPANT_SUSPENDED', message: expect.stringContaining('suspended') });
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_batches WHERE node_id = $1`, [node.id]);
    expect(n).toBe(1);
  });
});
