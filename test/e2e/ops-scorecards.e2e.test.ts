import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { ScorecardFoldJob } from '../../src/scorecards/scorecard-fold.js';
import { listSpotInstrument } from '../support/market-fixtures.js';
import { meteredDelivery, postUsageBatch, usageRecord, verifyUsageBatch } from '../support/metering-fixtures.js';
import { consoleGet, signInToConsole, type ConsoleSession } from '../support/ops-console.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The console's scorecards (issue 16, item 4): a model class's league table with the market's
// figures, and a provider's scorecard per node, from usage verified and folded as a worker does.
let t: TestApp;
let session: ConsoleSession;
let modelClassId: string;
let providerId: string;
let nodeId: string;

beforeAll(async () => {
  t = await startTestApp();
  session = await signInToConsole(t);
  const market = await listSpotInstrument(t, 'os', { spotWindowSeconds: 3_600 });
  modelClassId = market.modelClassId;
  const d = await meteredDelivery(t, market);
  providerId = d.provider.id;
  nodeId = d.node.id;
  const batchId = randomUUID();
  const slow = usageRecord(modelClassId, d.deliveryId, d.keyId, { ttftMs: 2_500 });
  const late = { ...slow, finishedAt: new Date(Date.parse(slow.startedAt) + 3_000).toISOString() }; // first token after 2.5 s of 3
  await postUsageBatch(t, d.node, [usageRecord(modelClassId, d.deliveryId, d.keyId), late], batchId).expect(202);
  await verifyUsageBatch(t, d.node, batchId);
  await t.dataSource.transaction((manager) => t.app.get(ScorecardFoldJob).fold(manager));
});
afterAll(async () => {
  await t.close();
});

describe('/ops/scorecards', () => {
  test('the league table of the chosen model class and window, with the market, linking each provider’s scorecard', async () => {
    const page = await consoleGet(t, session, `/ops/scorecards?modelClass=${modelClassId}&window=1h`).expect(200);
    expect(page.text).toContain('data-testid="league"');
    const rows = page.text.match(/data-testid="league-row"/g) ?? [];
    expect(rows).toHaveLength(1);
    expect(page.text).toContain(`/ops/scorecards/providers/${providerId}?window=1h`);
    // Two requests (400 + 100 tokens: 200 billable each), one over the 2 s TTFT limit.
    expect(page.text).toMatch(/data-testid="sc-requests">2</);
    expect(page.text).toMatch(/data-testid="sc-verified-tokens">400</);
    expect(page.text).toMatch(/data-testid="sc-sla-misses">1</);
    expect(page.text).toContain('data-testid="league-market"');
  });

  test('a provider’s scorecard per model class and node', async () => {
    const page = await consoleGet(t, session, `/ops/scorecards/providers/${providerId}?window=24h`).expect(200);
    expect(page.text).toContain(`data-model-class="${modelClassId}"`);
    expect(page.text).toContain(`node ${nodeId}`);
    expect(page.text).toMatch(/data-testid="sc-cost">0\.001000</);
    // The provider's participant page links it.
    expect((await consoleGet(t, session, `/ops/participants/${providerId}`).expect(200)).text).toContain(`href="/ops/scorecards/providers/${providerId}"`);
  });

  test('bad input is refused on the page, naming the field; the console needs a session', async () => {
    const bad = await consoleGet(t, session, `/ops/scorecards?window=2h`);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('window must be one of');
    await consoleGet(t, session, `/ops/scorecards/providers/${randomUUID()}`).expect(404);
    const anonymous = await t.http.get('/ops/scorecards');
    expect([302, 303]).toContain(anonymous.status);
  });
});
