import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DEFAULT_INGEST_THROTTLE, IngestThrottle } from '../../src/metering/core/ingest-throttle.js';
import { INGEST_THROTTLE } from '../../src/metering/metering.service.js';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { type MeteredDelivery, meteredDelivery, postUsageBatch, usageRecord } from '../support/metering-fixtures.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Usage ingest yields to order entry in the same process (INGEST_YIELD_TARGET_MS; issue 15, item 4;
 * docs/metering.md). How the throttle's rate moves is the pure core's (ingest-throttle.spec.ts);
 * here: order batches report to it, and the route waits or refuses as it says.
 */
let t: TestApp;
let throttle: IngestThrottle;
let symbol: string;
let modelClassId: string;
let metered: MeteredDelivery;

beforeAll(async () => {
  t = await startTestApp({ INGEST_YIELD_TARGET_MS: '20' });
  throttle = t.app.get<IngestThrottle>(INGEST_THROTTLE);
  ({ symbol, modelClassId } = await listSpotInstrument(t, 'yld', { spotWindowSeconds: 60 }));
  metered = await meteredDelivery(t, { symbol, modelClassId });
});
afterAll(async () => {
  await t.close();
});

const records = (n: number) => Array.from({ length: n }, () => usageRecord(modelClassId, metered.deliveryId, metered.keyId));
const stored = async (batchId: string) =>
  (await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_batches WHERE node_id = $1 AND batch_id = $2`, [metered.node.id, batchId]))[0].n;

describe('usage ingest yields to order entry', () => {
  test('each order batch tells the throttle how long it took, and /metrics shows the rate it allows', async () => {
    expect(throttle).toBeInstanceOf(IngestThrottle);
    const observe = jest.spyOn(throttle, 'observe');
    const { buyer } = metered;
    await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: symbol, side: 'buy', type: 'limit', price: '0.100', quantity: 1_000_000 }).expect(201);
    expect(observe).toHaveBeenCalledWith(expect.any(Number), expect.any(Number));
    observe.mockRestore();
    const metrics = await t.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^tokex_ingest_allowed_records_per_second \d+/m);
    await t.http.delete('/v1/orders').set(bearer(buyer.key)).expect(200);
  });

  test('a batch waits for what earlier ones owe, or past the longest wait is refused with 503 INGEST_BUSY and stores nothing', async () => {
    // The throttle starts at its floor, 1,000 records a second. A fleet's batch of 2,500 records
    // is told to it with a time an hour ahead, where its clock then stays (the service's calls
    // come earlier and do not move it): the bucket owes 2.4 s.
    const at = performance.now() + 3_600_000;
    expect(throttle.recordsPerSecond).toBe(DEFAULT_INGEST_THROTTLE.minRate);
    expect(throttle.admit(2_500, at)).toBe(0);
    expect(throttle.owedMs).toBe(2_400);
    const refusedId = randomUUID();
    const refused = await postUsageBatch(t, metered.node, records(50), refusedId).expect(503);
    expect(refused.body).toMatchObject({ code: 'INGEST_BUSY' });
    expect(refused.headers['retry-after']).toBe('3');
    expect(await stored(refusedId)).toBe(0);

    throttle.admit(0, at + 3_000); // three seconds on, the debt is repaid
    expect(throttle.owedMs).toBe(0);
    const acceptedId = randomUUID();
    await postUsageBatch(t, metered.node, records(50), acceptedId).expect(202);
    expect(await stored(acceptedId)).toBe(1);
  });
});
