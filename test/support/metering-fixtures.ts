import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { VerifyBatchJob } from '../../src/metering/verification.service.js';
import { signUsageBatch, type UsageRecord } from '../../src/protocol/usage-batch.js';
import { fundedBuyer } from './market-fixtures.js';
import { bearer, createParticipant, deposit, type TestApp, type TestParticipant } from './test-app.js';

/** A provider's inference node, with the private key its usage batches are signed with. */
export interface MeteredNode {
  readonly id: string;
  readonly key: KeyObject;
}

/** A spot instrument of a model class (market-fixtures' `listSpotInstrument`). */
export interface SpotMarket {
  readonly symbol: string;
  readonly modelClassId: string;
}

export interface MeteredDelivery {
  readonly buyer: TestParticipant;
  readonly provider: TestParticipant;
  readonly node: MeteredNode;
  readonly deliveryId: string;
  /** A buyer delivery key's id, which records name as `keyId`. */
  readonly keyId: string;
}

/** A provider with 100 USD and a node of the model class whose signing key the test holds. */
export async function providerWithNode(t: TestApp, modelClassId: string): Promise<{ provider: TestParticipant; node: MeteredNode }> {
  const provider = await createParticipant(t, ['provider']);
  await deposit(t, provider.id, '100');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const created = await t.http
    .post('/v1/nodes')
    .set(bearer(provider.key))
    .send({
      modelClassId,
      baseUrl: 'http://127.0.0.1:9/v1',
      metricsUrl: 'http://127.0.0.1:9/metrics',
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      tokensPerSecond: 100_000,
    })
    .expect(201);
  return { provider, node: { id: created.body.id, key: privateKey } };
}

/** A new buyer (100 USD) buys 1,000,000 tokens at 0.500 from a new provider with a node; with a buyer delivery key. */
export async function meteredDelivery(t: TestApp, market: SpotMarket): Promise<MeteredDelivery> {
  const buyer = await fundedBuyer(t, '100');
  const { provider, node } = await providerWithNode(t, market.modelClassId);
  await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: market.symbol, side: 'buy', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  await t.http.post('/v1/orders').set(bearer(provider.key)).send({ instrument: market.symbol, side: 'sell', type: 'limit', price: '0.500', quantity: 1_000_000 }).expect(201);
  const [d] = (await t.http.get('/v1/deliveries').set(bearer(buyer.key)).expect(200)).body.items;
  const key = await t.http.post(`/v1/deliveries/${d.id}/keys`).set(bearer(buyer.key)).send({}).expect(201);
  return { buyer, provider, node, deliveryId: d.id, keyId: key.body.id };
}

/** An honest request: 400 prompt + 100 completion tokens in 2 s, first token after 300 ms, ending 1 s ago. */
export function usageRecord(modelClassId: string, deliveryId: string, keyId: string, overrides: Partial<UsageRecord> = {}): UsageRecord {
  const started = Date.now() - 3_000;
  return {
    requestId: `chatcmpl-${randomUUID()}`,
    deliveryId,
    keyId,
    model: modelClassId,
    promptTokens: 400,
    completionTokens: 100,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(started + 2_000).toISOString(),
    ttftMs: 300,
    status: 'ok',
    stream: true,
    ...overrides,
  };
}

/** What a node agent sends: the batch's exact bytes, with X-Tokex-Node and X-Tokex-Signature (api.md). */
export function postUsageBatch(t: TestApp, node: MeteredNode, records: UsageRecord[], batchId: string = randomUUID(), key: KeyObject = node.key) {
  const signed = signUsageBatch({ batchId, nodeId: node.id, createdAt: new Date().toISOString(), records }, key);
  // supertest would re-encode a Buffer as JSON; the body's text is its exact bytes (UTF-8).
  return t.http.post('/v1/metering/usage-batches').set(signed.headers).send(signed.body.toString());
}

/** Runs the batch's verification job the way a worker does: in a transaction. */
export const verifyUsageBatch = (t: TestApp, node: MeteredNode, batchId: string) =>
  t.dataSource.transaction((manager) => t.app.get(VerifyBatchJob).handle({ nodeId: node.id, batchId }, { jobId: 'test', attempt: 1, manager }));

/**
 * An open `buyer_mismatch` dispute through the real path: the buyer reports 400 prompt + 100
 * completion tokens for a request, the node's signed batch says 400 + 150, verification bills the
 * buyer's 200 billable tokens and holds the 50 in excess out of settlement.
 */
export async function buyerMismatchDispute(t: TestApp, market: SpotMarket): Promise<MeteredDelivery & { disputeId: string; requestId: string; batchId: string }> {
  const delivery = await meteredDelivery(t, market);
  const inflated = usageRecord(market.modelClassId, delivery.deliveryId, delivery.keyId, { completionTokens: 150 });
  await t.http
    .post('/v1/metering/buyer-reports')
    .set(bearer(delivery.buyer.key))
    .send({ deliveryId: delivery.deliveryId, records: [{ requestId: inflated.requestId, promptTokens: 400, completionTokens: 100 }] })
    .expect(202);
  const batchId = randomUUID();
  await postUsageBatch(t, delivery.node, [inflated], batchId).expect(202);
  await verifyUsageBatch(t, delivery.node, batchId);
  const [dispute] = (await t.http.get(`/v1/admin/disputes?deliveryId=${delivery.deliveryId}`).set(bearer(t.adminKey)).expect(200)).body.items;
  if (!dispute) throw new Error('no dispute was opened');
  return { ...delivery, disputeId: dispute.id, requestId: inflated.requestId, batchId };
}
