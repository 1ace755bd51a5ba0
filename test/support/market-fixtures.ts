import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { bearer, createParticipant, deposit, type TestApp, type TestParticipant } from './test-app.js';

/**
 * A new model class (llama3 tokenizer, prompt tokens at a quarter, SLA 20 tokens/s and 2 s to the
 * first token) and its spot instrument (default grid and fees, or the given delivery window), with
 * an empty book.
 */
export async function listSpotInstrument(
  t: TestApp,
  prefix = 't',
  terms: { spotWindowSeconds?: number; bondBps?: number } = {},
): Promise<{ symbol: string; modelClassId: string }> {
  const modelClassId = `${prefix}${randomUUID().slice(0, 8)}-8b`;
  await t.http
    .post('/v1/admin/model-classes')
    .set(bearer(t.adminKey))
    .send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 })
    .expect(201);
  const listed = await t.http
    .post('/v1/admin/instruments')
    .set(bearer(t.adminKey))
    .send({ modelClassId, kind: 'spot', ...terms })
    .expect(201);
  return { symbol: listed.body.symbol, modelClassId };
}

export async function fundedBuyer(t: TestApp, cash = '1000'): Promise<TestParticipant> {
  const who = await createParticipant(t, ['buyer']);
  await deposit(t, who.id, cash);
  return who;
}

/** A funded provider with one enabled node of the model class (a fresh Ed25519 key). */
export async function fundedProvider(
  t: TestApp,
  modelClassId: string,
  { tokensPerSecond = 1_000_000, cash = '1000' }: { tokensPerSecond?: number; cash?: string } = {},
): Promise<TestParticipant> {
  const who = await createParticipant(t, ['provider']);
  await deposit(t, who.id, cash);
  const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  await t.http
    .post('/v1/nodes')
    .set(bearer(who.key))
    .send({ modelClassId, baseUrl: 'http://127.0.0.1:9/v1', metricsUrl: 'http://127.0.0.1:9/metrics', publicKey, tokensPerSecond })
    .expect(201);
  return who;
}
