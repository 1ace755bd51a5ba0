import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { calculateJwkThumbprint, type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { openUsageBatch, type SignedUsageBatch, type UsageBatch, type UsageRecord } from '../../src/metering/usage-batch.js';
import { type NodeAgent, type NodeAgentConfig, startNodeAgent } from '../../src/node-agent/main.js';
import { MonotonicUuidV7 } from '../../src/node-agent/spool.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The node agent in-process, between a fake OpenAI-compatible upstream and a fake tokex, driven
 * by the real `openai` client the way a buyer would.
 */

const MODEL_CLASS = 'llama-3.1-8b-instruct';
const UPSTREAM_MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const UPSTREAM_API_KEY = 'upstream-secret';
const WORDS = ['Hello', ' from', ' the', ' fake', ' upstream'];

// ---- a fake inference server (vLLM-like) -----------------------------------------------------

interface FakeUpstream {
  readonly url: string;
  /** Every completion request it received: body and Authorization header, and the SSE bytes it sent back. */
  readonly requests: Array<{ body: Record<string, unknown>; authorization: string | undefined; sent?: string; abandoned?: boolean }>;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Prompt tokens the fake upstream reports: one per character of the messages, so each request differs. */
const promptTokensOf = (body: Record<string, unknown>) =>
  (body.messages as Array<{ content: string }>).reduce((sum, m) => sum + m.content.length, 0);

async function startFakeUpstream(): Promise<FakeUpstream> {
  const requests: FakeUpstream['requests'] = [];
  const server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') return sendJson(res, 200, { object: 'list', data: [{ id: UPSTREAM_MODEL, object: 'model' }] });
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return sendJson(res, 404, { error: { message: 'not found' } });
    const body = (await readJson(req)) as Record<string, unknown>;
    const entry: FakeUpstream['requests'][number] = { body, authorization: req.headers.authorization };
    requests.push(entry);
    if ((body.messages as Array<{ content: string }>)[0]?.content === 'fail') return sendJson(res, 500, { error: { message: 'CUDA out of memory', type: 'server_error' } });
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const usage = { prompt_tokens: promptTokensOf(body), completion_tokens: WORDS.length, total_tokens: promptTokensOf(body) + WORDS.length };
    if (body.stream !== true) {
      return sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: UPSTREAM_MODEL,
        choices: [{ index: 0, message: { role: 'assistant', content: WORDS.join('') }, logprobs: null, finish_reason: 'stop' }],
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    // SSE lines may end in CRLF too; a prompt of "crlf" asks for that.
    const eol = (body.messages as Array<{ content: string }>)[0]?.content === 'crlf' ? '\r\n' : '\n';
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: UPSTREAM_MODEL,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    const events = [
      chunk({ role: 'assistant', content: '' }, null),
      ...WORDS.map((word) => chunk({ content: word }, null)),
      chunk({}, 'stop'),
      ...((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage
        ? [{ id, object: 'chat.completion.chunk', created, model: UPSTREAM_MODEL, choices: [], usage }]
        : []),
    ].map((e) => `data: ${JSON.stringify(e)}${eol}${eol}`);
    events.push(`data: [DONE]${eol}${eol}`);
    entry.sent = events.join('');
    res.on('close', () => {
      if (!res.writableFinished) entry.abandoned = true;
    });
    // A prompt of "slow" makes a generation slow enough to hang up on.
    const pauseMs = (body.messages as Array<{ content: string }>)[0]?.content === 'slow' ? 100 : 2;
    for (const event of events) {
      if (res.destroyed) return;
      // Cut each event in two, so the agent sees events split across network chunks.
      const cut = Math.floor(event.length / 2);
      res.write(event.slice(0, cut));
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      res.write(event.slice(cut));
    }
    res.end();
  });
  const url = await listen(server);
  return { url, requests, close: () => shut(server) };
}

// ---- a fake tokex ----------------------------------------------------------------------------

interface FakeTokex {
  readonly url: string;
  /** What POST /v1/metering/usage-batches answers while the signature is good. */
  answer: 202 | 503;
  readonly revoked: string[];
  /** Every post: its status, and the batch when the signature verified. */
  readonly posts: Array<{ status: number; batch?: UsageBatch; signed: SignedUsageBatch }>;
  /** Delivery keys as tokex signs them. */
  sign(claims?: Partial<KeyClaims>, signingKey?: SigningKey): Promise<{ token: string; keyId: string; deliveryId: string }>;
  acceptedRecords(): UsageRecord[];
  close(): Promise<void>;
}

interface KeyClaims {
  keyId: string;
  deliveryId: string;
  providerId: string;
  modelClassId: string;
  kind: 'buyer' | 'audit';
  expiresInSeconds: number;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { kid: await calculateJwkThumbprint(publicJwk), privateKey, publicJwk };
}

async function startFakeTokex(nodePublicKeySpki: string, providerId: string): Promise<FakeTokex> {
  const signingKey = await newSigningKey();
  const posts: FakeTokex['posts'] = [];
  const revoked: string[] = [];
  const tokex = {
    answer: 202 as 202 | 503,
    revoked,
    posts,
  };
  const server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/.well-known/jwks.json') {
      return sendJson(res, 200, { keys: [{ ...signingKey.publicJwk, kid: signingKey.kid, alg: 'EdDSA', use: 'sig' }] });
    }
    if (req.method === 'GET' && req.url === '/v1/.well-known/revoked-delivery-keys') {
      return sendJson(res, 200, { revoked: revoked.map((id) => ({ id, expiresAt: new Date(Date.now() + 3_600_000).toISOString() })) });
    }
    if (req.method === 'POST' && req.url === '/v1/metering/usage-batches') {
      const signed = (await readJson(req)) as SignedUsageBatch;
      if (tokex.answer === 503) {
        posts.push({ status: 503, signed });
        return sendJson(res, 503, { statusCode: 503, code: 'unavailable', message: 'down for maintenance' });
      }
      let batch: UsageBatch;
      try {
        ({ batch } = openUsageBatch(signed, nodePublicKeySpki));
      } catch (error) {
        posts.push({ status: 401, signed });
        return sendJson(res, 401, { statusCode: 401, code: 'bad_signature', message: (error as Error).message });
      }
      posts.push({ status: 202, batch, signed });
      return sendJson(res, 202, { batchId: batch.batchId, records: batch.records.length, accepted: batch.records.length, duplicates: 0, status: 'queued' });
    }
    sendJson(res, 404, { statusCode: 404, message: 'not found' });
  });
  const url = await listen(server);
  return Object.assign(tokex, {
    url,
    acceptedRecords: () => posts.flatMap((p) => (p.status === 202 ? p.batch!.records : [])),
    async sign(claims: Partial<KeyClaims> = {}, key: SigningKey = signingKey) {
      const keyId = claims.keyId ?? randomUUID();
      const deliveryId = claims.deliveryId ?? randomUUID();
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ dlv: deliveryId, prv: claims.providerId ?? providerId, mdl: claims.modelClassId ?? MODEL_CLASS, knd: claims.kind ?? 'buyer' })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
        .setIssuer('tokex')
        .setAudience('tokex-delivery')
        .setSubject(randomUUID())
        .setJti(keyId)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + (claims.expiresInSeconds ?? 3_600))
        .sign(key.privateKey);
      return { token, keyId, deliveryId };
    },
    close: () => shut(server),
  });
}

// ---- helpers ---------------------------------------------------------------------------------

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const nodeKeys = generateKeyPairSync('ed25519');
const nodePrivatePem = nodeKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const nodePublicSpki = nodeKeys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const nodeId = randomUUID();
const providerId = randomUUID();

let upstream: FakeUpstream;
let tokex: FakeTokex;
const spoolDirs: string[] = [];
const logs: string[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  tokex = await startFakeTokex(nodePublicSpki, providerId);
});
afterAll(async () => {
  await Promise.all([upstream.close(), tokex.close()]);
  await Promise.all(spoolDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function newSpoolDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tokex-node-agent-'));
  spoolDirs.push(dir);
  return dir;
}

async function startAgent(overrides: Partial<NodeAgentConfig> = {}): Promise<NodeAgent> {
  return startNodeAgent({
    tokexUrl: tokex.url,
    nodeId,
    providerId,
    modelClass: MODEL_CLASS,
    privateKey: nodePrivatePem,
    upstreamUrl: `${upstream.url}/v1`,
    upstreamApiKey: UPSTREAM_API_KEY,
    spoolDir: overrides.spoolDir ?? (await newSpoolDir()),
    port: 0,
    host: '127.0.0.1',
    flushIntervalMs: 100,
    maxBackoffMs: 100,
    shutdownGraceMs: 2_000,
    closeFlushTimeoutMs: 300,
    log: (level, msg, fields) => logs.push(JSON.stringify({ level, msg, ...fields })),
    ...overrides,
  });
}

const client = (agent: NodeAgent, token: string) => new OpenAI({ apiKey: token, baseURL: `${agent.url}/v1`, maxRetries: 0 });
const ask = (text: string) => ({ model: UPSTREAM_MODEL, messages: [{ role: 'user' as const, content: text }] });

/** Every record tokex accepted for `requestId`. */
const recordsOf = (requestId: string) => tokex.acceptedRecords().filter((r) => r.requestId === requestId);

// ---- serving ---------------------------------------------------------------------------------

describe('serving buyers', () => {
  let agent: NodeAgent;
  let revokedKey: { token: string; keyId: string };

  beforeAll(async () => {
    tokex.answer = 202;
    revokedKey = await tokex.sign();
    tokex.revoked.push(revokedKey.keyId);
    agent = await startAgent();
  });
  afterAll(() => agent.close());

  test('a non-streamed chat completion goes through, and its usage reaches tokex signed by the node', async () => {
    const { token, keyId, deliveryId } = await tokex.sign();
    const before = upstream.requests.length;

    const completion = await client(agent, token).chat.completions.create(ask('What is tokex?'));

    expect(completion.choices[0]!.message.content).toBe('Hello from the fake upstream');
    expect(completion.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 5 });
    const forwarded = upstream.requests[before]!;
    expect(forwarded.authorization).toBe(`Bearer ${UPSTREAM_API_KEY}`); // the upstream's key, never the buyer's
    expect(forwarded.body).toEqual(ask('What is tokex?'));

    await agent.flush(5_000);
    const [record, ...more] = recordsOf(completion.id);
    expect(more).toEqual([]);
    expect(record).toEqual({
      requestId: completion.id,
      deliveryId,
      keyId,
      model: UPSTREAM_MODEL,
      promptTokens: 14,
      completionTokens: 5,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      ttftMs: expect.any(Number),
      status: 'ok',
      stream: false,
    });
    expect(Date.parse(record!.finishedAt)).toBeGreaterThanOrEqual(Date.parse(record!.startedAt));
    // The signature covers the payload bytes as posted, with the node's registered key.
    const post = tokex.posts.find((p) => p.batch?.records.some((r) => r.requestId === completion.id))!;
    expect(post.signed.nodeId).toBe(nodeId);
    expect(openUsageBatch(post.signed, nodePublicSpki).batch.nodeId).toBe(nodeId);
  });

  test('a streamed completion that asked for usage gets the usage chunk; the record has the same counts', async () => {
    const { token, keyId, deliveryId } = await tokex.sign();
    const stream = await client(agent, token).chat.completions.create({ ...ask('Stream, please'), stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from the fake upstream');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 5 });

    await agent.flush(5_000);
    expect(recordsOf(last.id)).toEqual([
      expect.objectContaining({ requestId: last.id, deliveryId, keyId, model: UPSTREAM_MODEL, promptTokens: 14, completionTokens: 5, status: 'ok', stream: true }),
    ]);
  });

  test('a streamed completion that did not ask for usage gets no usage chunk, and is still counted', async () => {
    const { token, deliveryId } = await tokex.sign();
    const before = upstream.requests.length;
    const stream = await client(agent, token).chat.completions.create({ ...ask('No usage for me'), stream: true });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from the fake upstream');
    expect(chunks.every((c) => c.choices.length > 0 && c.usage == null)).toBe(true);
    // The agent asked the upstream for usage on the client's behalf.
    expect(upstream.requests[before]!.body.stream_options).toEqual({ include_usage: true });

    await agent.flush(5_000);
    const [record] = recordsOf(chunks[0]!.id);
    expect(record).toMatchObject({ deliveryId, promptTokens: 15, completionTokens: 5, status: 'ok', stream: true });
    expect(record!.ttftMs).toBeLessThanOrEqual(Date.parse(record!.finishedAt) - Date.parse(record!.startedAt));
  });

  test('SSE events are relayed byte for byte, except the usage-only chunk the client did not ask for', async () => {
    const { token } = await tokex.sign();
    for (const [prompt, includeUsage] of [['lf', true], ['lf', false], ['crlf', true], ['crlf', false]] as const) {
      const before = upstream.requests.length;
      const answer = await fetch(`${agent.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...ask(prompt), stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }),
      });
      expect(answer.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const relayed = await answer.text();
      const sent = upstream.requests[before]!.sent!;
      const eol = prompt === 'crlf' ? '\r\n' : '\n';
      const withoutUsage = sent
        .split(`${eol}${eol}`)
        .filter((event) => !event.includes('"choices":[]'))
        .join(`${eol}${eol}`);
      expect(withoutUsage).not.toBe(sent);
      expect(relayed).toBe(includeUsage ? sent : withoutUsage);
    }
  });

  test('a request the upstream fails (5xx, unreachable) is relayed as such and recorded as an error with no tokens', async () => {
    const failing = await tokex.sign();
    const failed = await client(agent, failing.token)
      .chat.completions.create(ask('fail'))
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(OpenAI.InternalServerError);

    const gone = createServer();
    const goneUrl = await listen(gone);
    await shut(gone);
    const unreachable = await tokex.sign();
    const orphan = await startAgent({ upstreamUrl: `${goneUrl}/v1` });
    try {
      const refused = await client(orphan, unreachable.token)
        .chat.completions.create(ask('anyone there?'))
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 502, code: 'upstream_unavailable' });
      await orphan.flush(5_000);
    } finally {
      await orphan.close();
    }

    await agent.flush(5_000);
    for (const { deliveryId, keyId } of [failing, unreachable]) {
      expect(tokex.acceptedRecords().filter((r) => r.deliveryId === deliveryId)).toEqual([
        expect.objectContaining({ deliveryId, keyId, promptTokens: 0, completionTokens: 0, status: 'error', stream: false }),
      ]);
    }
  });

  test('a buyer hanging up mid-stream aborts the upstream request and is not recorded as the node failing', async () => {
    const { token, deliveryId } = await tokex.sign();
    const before = upstream.requests.length;
    const hangUp = new AbortController();
    const answer = await fetch(`${agent.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask('slow'), stream: true }),
      signal: hangUp.signal,
    });
    await answer.body!.getReader().read(); // the first event
    hangUp.abort();

    await waitFor('the upstream to see the hang-up', async () => upstream.requests[before]?.abandoned);
    await agent.flush(5_000);
    expect(tokex.acceptedRecords().filter((r) => r.deliveryId === deliveryId)).toEqual([
      expect.objectContaining({ deliveryId, status: 'ok', stream: true, promptTokens: 0, completionTokens: 0 }),
    ]);
  });

  test("tokex's audit keys are served like buyers' keys", async () => {
    const { token } = await tokex.sign({ kind: 'audit' });
    const completion = await client(agent, token).chat.completions.create(ask('probe'));
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  test('bad, foreign, revoked, expired, wrong-provider and wrong-model keys are refused with 401, and nothing is forwarded', async () => {
    const foreignTokex = await newSigningKey();
    const refusals: Array<[string, string]> = [
      ['not-a-jwt', 'malformed'],
      [(await tokex.sign({}, foreignTokex)).token, 'bad_signature'],
      [revokedKey.token, 'revoked'],
      [(await tokex.sign({ expiresInSeconds: -60 })).token, 'expired'],
      [(await tokex.sign({ providerId: randomUUID() })).token, 'wrong_provider'],
      [(await tokex.sign({ modelClassId: 'mistral-7b-instruct' })).token, 'wrong_model_class'],
    ];
    const before = upstream.requests.length;
    for (const [token, reason] of refusals) {
      const refused = await client(agent, token)
        .chat.completions.create(ask('let me in'))
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(refused).toMatchObject({ status: 401, code: 'invalid_api_key' });
      expect((refused as Error).message).toContain(reason);
    }
    const noKey = await fetch(`${agent.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(ask('x')) });
    expect(noKey.status).toBe(401);
    expect(upstream.requests.length).toBe(before);
  });

  test('/health reports the agent and the upstream; other paths are 404; bodies over 4 MiB are 413', async () => {
    const health = await fetch(`${agent.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, upstream: true });

    expect((await fetch(`${agent.url}/v1/models`)).status).toBe(404);
    expect((await fetch(`${agent.url}/v1/embeddings`, { method: 'POST', body: '{}' })).status).toBe(404);

    const { token } = await tokex.sign();
    const before = upstream.requests.length;
    expect(await postRaw(`${agent.url}/v1/chat/completions`, token, { declaredLength: 5 * 1024 * 1024 })).toBe(413); // by the header alone
    expect(await postRaw(`${agent.url}/v1/chat/completions`, token, { chunkedBytes: 5 * 1024 * 1024 })).toBe(413); // counted while reading
    expect(upstream.requests.length).toBe(before);
  });
});

/**
 * The status of a POST that declares `declaredLength` bytes and sends none, or streams
 * `chunkedBytes` without a Content-Length. Errors after the answer (the agent closes the
 * connection on a 413) are ignored.
 */
function postRaw(url: string, token: string, body: { declaredLength?: number; chunkedBytes?: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    if (body.declaredLength !== undefined) headers['content-length'] = body.declaredLength;
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      answered = true;
      resolve(res.statusCode ?? 0);
      res.resume();
      req.destroy();
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (body.chunkedBytes !== undefined) {
      const piece = Buffer.alloc(64 * 1024, 0x20);
      const pump = (left: number): void => {
        if (answered || req.destroyed) return;
        if (left <= 0) return void req.end();
        if (req.write(piece)) pump(left - piece.length);
        else req.once('drain', () => pump(left - piece.length));
      };
      pump(body.chunkedBytes);
    } else req.flushHeaders();
  });
}

// ---- when tokex is down, and across restarts ---------------------------------------------

describe('delivering usage to tokex', () => {
  test("while tokex's keys could never be loaded, requests get 503 and nothing is forwarded", async () => {
    const gone = createServer();
    const goneUrl = await listen(gone);
    await shut(gone); // nothing listens there any more
    const agent = await startAgent({ tokexUrl: goneUrl });
    try {
      const { token } = await tokex.sign();
      const before = upstream.requests.length;
      const refused = await client(agent, token)
        .chat.completions.create(ask('hello'))
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 503, code: 'keys_unavailable' });
      expect(upstream.requests.length).toBe(before);
      expect((await fetch(`${agent.url}/health`)).status).toBe(503);
    } finally {
      await agent.close();
    }
  });

  test('tokex answering 503, then 202: the batch is retried and arrives once, later', async () => {
    tokex.answer = 503;
    const agent = await startAgent();
    try {
      const { token } = await tokex.sign();
      const completion = await client(agent, token).chat.completions.create(ask('retry me'));
      const refusedPosts = () => tokex.posts.filter((p) => p.status === 503 && openUsageBatch(p.signed, nodePublicSpki).batch.records.some((r) => r.requestId === completion.id));
      await waitFor('two refused attempts', async () => (refusedPosts().length >= 2 ? true : undefined));
      expect(recordsOf(completion.id)).toEqual([]);

      tokex.answer = 202;
      await agent.flush(5_000);
      expect(recordsOf(completion.id)).toHaveLength(1);
      const batchId = openUsageBatch(refusedPosts()[0]!.signed, nodePublicSpki).batch.batchId;
      expect(tokex.posts.filter((p) => p.status === 202 && p.batch!.batchId === batchId)).toHaveLength(1);
    } finally {
      tokex.answer = 202;
      await agent.close();
    }
  });

  test('an agent restarted mid-way, and one that crashed between sealing and retiring a segment, lose nothing and send nothing twice', async () => {
    const spoolDir = await newSpoolDir();
    const requestIds: string[] = [];
    const serve = async (agent: NodeAgent, n: number) => {
      const { token } = await tokex.sign();
      for (let i = 0; i < n; i += 1) {
        if (i % 2 === 0) {
          requestIds.push((await client(agent, token).chat.completions.create(ask(`request ${requestIds.length}`))).id);
        } else {
          const stream = await client(agent, token).chat.completions.create({ ...ask(`request ${requestIds.length}`), stream: true });
          let id = '';
          for await (const chunk of stream) id = chunk.id;
          requestIds.push(id);
        }
      }
    };

    // First life: tokex is down, so everything stays in the spool.
    tokex.answer = 503;
    const first = await startAgent({ spoolDir, batchMaxRecords: 3 });
    await serve(first, 7);
    await first.close();
    const sealed = (await readdir(spoolDir)).filter((name) => /^batch-.*\.json$/.test(name)).sort();
    expect(sealed.length).toBeGreaterThanOrEqual(3);
    expect(tokex.acceptedRecords().filter((r) => requestIds.includes(r.requestId))).toEqual([]);

    // Replay a crash between steps 2 and 3 of the protocol: the newest batch's records are also
    // still in their segment, followed by a record never sealed and a torn line.
    const newest = JSON.parse(await readFile(join(spoolDir, sealed.at(-1)!), 'utf8')) as UsageBatch;
    const unsealed: UsageRecord = { ...newest.records[0]!, requestId: `chatcmpl-${randomUUID()}` };
    requestIds.push(unsealed.requestId);
    const lines = [...newest.records, unsealed].map((r) => JSON.stringify(r)).join('\n');
    await writeFile(join(spoolDir, `segment-${new MonotonicUuidV7().next()}.jsonl`), `${lines}\n{"requestId":"torn`);
    await writeFile(join(spoolDir, `batch-${randomUUID()}.json.tmp`), '{"half":');

    // Second life: tokex is back.
    tokex.answer = 202;
    const second = await startAgent({ spoolDir, batchMaxRecords: 3 });
    try {
      await serve(second, 3);
      await second.flush(10_000);
    } finally {
      await second.close();
    }

    const arrived = new Map<string, number>();
    for (const record of tokex.acceptedRecords()) arrived.set(record.requestId, (arrived.get(record.requestId) ?? 0) + 1);
    expect(requestIds).toHaveLength(11);
    expect(requestIds.map((id) => [id, arrived.get(id) ?? 0])).toEqual(requestIds.map((id) => [id, 1]));
    const batchPosts = new Map<string, number>();
    for (const post of tokex.posts.filter((p) => p.status === 202)) batchPosts.set(post.batch!.batchId, (batchPosts.get(post.batch!.batchId) ?? 0) + 1);
    expect([...batchPosts.values()].every((n) => n === 1)).toBe(true);
    expect((await readdir(spoolDir)).filter((name) => name !== 'rejected')).toEqual([]);
  });

  test('batches signed with the wrong key are refused by tokex and kept in rejected/ with the answer, not retried', async () => {
    const spoolDir = await newSpoolDir();
    const wrongKey = generateKeyPairSync('ed25519').privateKey;
    const agent = await startAgent({ spoolDir, privateKey: wrongKey });
    try {
      const { token } = await tokex.sign();
      const completion = await client(agent, token).chat.completions.create(ask('signed wrong'));
      await agent.flush(5_000); // the spool empties: the batch moved to rejected/
      const rejected = (await readdir(join(spoolDir, 'rejected'))).sort();
      expect(rejected).toHaveLength(2);
      const [answerFile, batchFile] = rejected;
      expect(answerFile).toMatch(/\.answer\.json$/);
      const batch = JSON.parse(await readFile(join(spoolDir, 'rejected', batchFile!), 'utf8')) as UsageBatch;
      expect(batch.records.map((r) => r.requestId)).toEqual([completion.id]);
      expect(JSON.parse(await readFile(join(spoolDir, 'rejected', answerFile!), 'utf8'))).toMatchObject({ batchId: batch.batchId, status: 401 });
      expect(recordsOf(completion.id)).toEqual([]);
      const payloadOf = (p: FakeTokex['posts'][number]) => JSON.parse(Buffer.from(p.signed.payload, 'base64url').toString('utf8')) as UsageBatch;
      expect(tokex.posts.filter((p) => p.status === 401 && payloadOf(p).batchId === batch.batchId)).toHaveLength(1); // not retried
    } finally {
      await agent.close();
    }
  });
});
