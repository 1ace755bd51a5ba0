import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { signUsageBatch, type UsageRecord } from '../../src/protocol/usage-batch.js';
import { callService, expectStatus } from '../support/child-service.js';
import { upcomingWeek } from '../support/forward-fixtures.js';

export interface SeededParticipant {
  readonly id: string;
  readonly name: string;
  readonly key: string;
}

/** The market the browser tests (and their screenshots) look at. */
export interface SeededMarket {
  readonly spot: string;
  readonly forward: string;
  readonly modelClassId: string;
  readonly acme: SeededParticipant;
  readonly borealis: SeededParticipant;
  readonly cobalt: SeededParticipant;
  readonly delta: SeededParticipant;
  readonly disputedDeliveryId: string;
  readonly disputeId: string;
  /** Borealis's resting sells, which suspending it cancels. */
  readonly restingOrderIds: string[];
}

/**
 * A small, lived-in market, through the public and admin API only: two providers with nodes, two
 * buyers, spot trades at a few prices, a forward hedge, a delivery whose node reported more
 * tokens than the buyer saw (an open dispute), and resting orders.
 */
export async function seedMarket(baseUrl: string, adminKey: string): Promise<SeededMarket> {
  const call = (method: string, path: string, key: string, body: unknown, status: number) =>
    expectStatus(callService(baseUrl, method, path, key, body), status, `${method} ${path}`).then((a) => a.body);
  const modelClassId = 'llama-3.1-8b-instruct';
  await call('POST', '/v1/admin/model-classes', adminKey, { id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 }, 201);
  const spot = (await call('POST', '/v1/admin/instruments', adminKey, { modelClassId, kind: 'spot', spotWindowSeconds: 3600 }, 201)).symbol as string;
  const forward = (await call('POST', '/v1/admin/instruments', adminKey, { modelClassId, kind: 'forward', deliveryPeriod: upcomingWeek().period }, 201)).symbol as string;

  const participant = async (name: string, roles: string[], cash: string): Promise<SeededParticipant> => {
    const created = await call('POST', '/v1/participants', adminKey, { name, roles }, 201);
    await call('POST', '/v1/admin/deposits', adminKey, { participantId: created.participant.id, amount: cash }, 201);
    return { id: created.participant.id, name, key: created.apiKey.key };
  };
  const nodeOf = async (provider: SeededParticipant): Promise<{ id: string; key: KeyObject }> => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const node = await call('POST', '/v1/nodes', provider.key, {
      modelClassId,
      baseUrl: 'http://127.0.0.1:9/v1',
      metricsUrl: 'http://127.0.0.1:9/metrics',
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      tokensPerSecond: 50_000,
    }, 201);
    return { id: node.id, key: privateKey };
  };
  const acme = await participant('Acme GPU Cloud', ['provider'], '500');
  const borealis = await participant('Borealis Inference', ['provider'], '500');
  const cobalt = await participant('Cobalt Labs', ['buyer'], '1000');
  const delta = await participant('Delta AI', ['buyer'], '1000');
  const acmeNode = await nodeOf(acme);
  await nodeOf(borealis);

  const order = (who: SeededParticipant, instrument: string, side: string, price: string, quantity: number) =>
    call('POST', '/v1/orders', who.key, { instrument, side, type: 'limit', price, quantity }, 201);
  // Spot trades at a few prices (the overview's candles and index), each a delivery.
  for (const [buyer, seller, price, quantity] of [
    [delta, borealis, '0.460', 2_000_000],
    [cobalt, acme, '0.480', 1_000_000],
    [delta, acme, '0.470', 3_000_000],
    [delta, borealis, '0.450', 1_500_000],
    [cobalt, borealis, '0.490', 2_500_000],
  ] as const) {
    await order(buyer, spot, 'buy', price, quantity);
    await order(seller, spot, 'sell', price, quantity);
  }
  // A forward hedge: Cobalt buys a week of tokens from Acme.
  await order(acme, forward, 'sell', '0.500', 7_000_000);
  await order(cobalt, forward, 'buy', '0.500', 7_000_000);
  // Resting orders on both books.
  const restingOrderIds = [
    (await order(borealis, spot, 'sell', '0.520', 4_000_000)).id as string,
    (await order(borealis, spot, 'sell', '0.540', 2_000_000)).id as string,
  ];
  await order(delta, spot, 'buy', '0.400', 1_000_000);

  // Cobalt's delivery from Acme: the node reports 150 completion tokens where the buyer saw 100.
  const deliveries = (await call('GET', `/v1/deliveries?limit=100`, cobalt.key, undefined, 200)).items as Array<{ id: string; providerId: string; ordered: number }>;
  const disputed = deliveries.find((d) => d.providerId === acme.id && d.ordered === 1_000_000)!;
  const key = await call('POST', `/v1/deliveries/${disputed.id}/keys`, cobalt.key, {}, 201);
  const started = Date.now() - 5_000;
  const record: UsageRecord = {
    requestId: `chatcmpl-${randomUUID()}`,
    deliveryId: disputed.id,
    keyId: key.id,
    model: modelClassId,
    promptTokens: 400,
    completionTokens: 150,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(started + 2_000).toISOString(),
    ttftMs: 300,
    status: 'ok',
    stream: true,
  };
  await call('POST', '/v1/metering/buyer-reports', cobalt.key, { deliveryId: disputed.id, records: [{ requestId: record.requestId, promptTokens: 400, completionTokens: 100 }] }, 202);
  const signed = signUsageBatch({ batchId: randomUUID(), nodeId: acmeNode.id, createdAt: new Date().toISOString(), records: [record] }, acmeNode.key);
  const posted = await fetch(`${baseUrl}/v1/metering/usage-batches`, { method: 'POST', headers: signed.headers, body: signed.body });
  if (posted.status !== 202) throw new Error(`usage batch: ${posted.status} ${await posted.text()}`);
  // The worker verifies the batch and opens the dispute.
  const disputeId = await eventually('the dispute', async () => {
    const open = await call('GET', `/v1/admin/disputes?deliveryId=${disputed.id}`, adminKey, undefined, 200);
    return open.items[0]?.id as string | undefined;
  });
  return { spot, forward, modelClassId, acme, borealis, cobalt, delta, disputedDeliveryId: disputed.id, disputeId, restingOrderIds };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
