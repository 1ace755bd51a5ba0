import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { calculateJwkThumbprint, type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { parseVllmCounters } from '../../src/metering/counter-scrapes.js';
import {
  parseUsageBatch,
  type RejectedRecord,
  type UsageBatch,
  UsageBatchError,
  type UsageRecord,
  verifyUsageBatchSignature,
} from '../../src/protocol/usage-batch.js';
import { type NodeAgent, type NodeAgentConfig, startNodeAgent } from '../../src/node-agent/main.js';
import { OutputText } from '../../src/node-agent/openai-answer.js';
import { withVllmTokenCounters } from '../../src/node-agent/upstream-metrics.js';
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
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
/** What every successful answer of the fake upstream says, as the records must hash it. */
const OUTPUT_SHA256 = sha256(WORDS.join(''));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// ---- a fake inference server (vLLM-like) -----------------------------------------------------

/** The Prometheus text of each kind of inference server, as the fake upstream serves it at GET /metrics. */
const UPSTREAM_METRICS = {
  vllm: [
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total{model_name="${UPSTREAM_MODEL}"} 1234.0`,
    '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total{model_name="${UPSTREAM_MODEL}"} 567.0`,
    '',
  ].join('\n'),
  tgi: [
    '# TYPE tgi_request_input_length histogram',
    'tgi_request_input_length_bucket{le="1024"} 3',
    'tgi_request_input_length_bucket{le="+Inf"} 4',
    'tgi_request_input_length_sum 1234',
    'tgi_request_input_length_count 4',
    '# TYPE tgi_request_generated_tokens histogram',
    'tgi_request_generated_tokens_bucket{le="+Inf"} 4',
    'tgi_request_generated_tokens_sum 567',
    'tgi_request_generated_tokens_count 4',
    '# TYPE tgi_request_success counter',
    'tgi_request_success 4',
    '',
  ].join('\n'),
  llamacpp: [
    '# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.',
    '# TYPE llamacpp:prompt_tokens_total counter',
    'llamacpp:prompt_tokens_total 1234',
    '# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.',
    '# TYPE llamacpp:tokens_predicted_total counter',
    'llamacpp:tokens_predicted_total 567',
    '',
  ].join('\n'),
};

interface FakeUpstream {
  readonly url: string;
  /** What GET /metrics serves, or the status it fails with. */
  metrics: keyof typeof UPSTREAM_METRICS | 500;
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
  const state = { metrics: 'vllm' as FakeUpstream['metrics'] };
  const server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') return sendJson(res, 200, { object: 'list', data: [{ id: UPSTREAM_MODEL, object: 'model' }] });
    if (req.method === 'GET' && req.url === '/metrics') {
      if (state.metrics === 500) return sendJson(res, 500, { error: 'metrics are broken' });
      return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(UPSTREAM_METRICS[state.metrics]);
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return sendJson(res, 404, { error: { message: 'not found' } });
    const body = (await readJson(req)) as Record<string, unknown>;
    const entry: FakeUpstream['requests'][number] = { body, authorization: req.headers.authorization };
    requests.push(entry);
    const prompt = (body.messages as Array<{ content: string }>)[0]?.content;
    if (prompt === 'fail') return sendJson(res, 500, { error: { message: 'CUDA out of memory', type: 'server_error' } });
    // A prompt of "noid" gets answers without an id (some servers send none), streams preceded by a comment.
    const id = prompt === 'noid' ? undefined : `chatcmpl-${randomUUID()}`;
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
    if (id === undefined) events.unshift(`: warming up${eol}${eol}`);
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
  return Object.assign(state, { url, requests, close: () => shut(server) });
}

// ---- a fake tokex ----------------------------------------------------------------------------

interface FakeTokex {
  readonly url: string;
  /** What POST /v1/metering/usage-batches answers while the signature is good. */
  answer: 202 | 503;
  readonly revoked: string[];
  /** Every post: its status, the raw body and headers, and the batch when the signature verified. */
  readonly posts: TokexPost[];
  /** Delivery keys as tokex signs them. */
  sign(claims?: Partial<KeyClaims>, signingKey?: SigningKey): Promise<{ token: string; keyId: string; deliveryId: string }>;
  acceptedRecords(): UsageRecord[];
  close(): Promise<void>;
}

interface TokexPost {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: { readonly node?: string; readonly signature?: string; readonly contentType?: string };
  readonly batch?: UsageBatch;
  readonly valid?: UsageRecord[];
  readonly rejected?: RejectedRecord[];
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

async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** tokex as a node sees it, speaking the v1 protocol of api.md; `nodeKeys` are the registered nodes' public keys (SPKI, base64). */
async function startFakeTokex(nodeKeys: Record<string, string>, providerId: string): Promise<FakeTokex> {
  const signingKey = await newSigningKey();
  const posts: TokexPost[] = [];
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
    if (req.method === 'GET' && req.url === '/v1/delivery-keys/revoked') {
      return sendJson(res, 200, { revoked: revoked.map((jti) => ({ jti, exp: Math.floor(Date.now() / 1000) + 3_600 })) });
    }
    if (req.method === 'POST' && req.url === '/v1/metering/usage-batches') {
      const body = await readRaw(req);
      const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
      const headers = { node: header('x-tokex-node'), signature: header('x-tokex-signature'), contentType: header('content-type') };
      if (tokex.answer === 503) {
        posts.push({ status: 503, body, headers });
        return sendJson(res, 503, { statusCode: 503, code: 'unavailable', message: 'down for maintenance' });
      }
      // The signature first, over the exact bytes; only then are they parsed.
      const publicKey = headers.node === undefined ? undefined : nodeKeys[headers.node];
      if (publicKey === undefined || headers.signature === undefined || !verifyUsageBatchSignature(body, headers.signature, publicKey)) {
        posts.push({ status: 401, body, headers });
        return sendJson(res, 401, { statusCode: 401, code: 'BAD_SIGNATURE', message: 'X-Tokex-Signature does not verify with the key of X-Tokex-Node' });
      }
      let parsed: ReturnType<typeof parseUsageBatch>;
      try {
        parsed = parseUsageBatch(body, headers.node!);
      } catch (error) {
        if (!(error instanceof UsageBatchError)) throw error;
        posts.push({ status: 400, body, headers });
        return sendJson(res, 400, { statusCode: 400, code: 'VALIDATION_FAILED', message: error.message });
      }
      const { batch, valid, rejected } = parsed;
      posts.push({ status: 202, body, headers, batch, valid, rejected });
      return sendJson(res, 202, { batchId: batch.batchId, accepted: valid.length, rejected, duplicates: [] });
    }
    sendJson(res, 404, { statusCode: 404, message: 'not found' });
  });
  const url = await listen(server);
  return Object.assign(tokex, {
    url,
    acceptedRecords: () => posts.flatMap((p) => p.valid ?? []),
    async sign(claims: Partial<KeyClaims> = {}, key: SigningKey = signingKey) {
      const keyId = claims.keyId ?? randomUUID();
      const deliveryId = claims.deliveryId ?? randomUUID();
      const now = Math.floor(Date.now() / 1000);
      // The v1 claims: the delivery is the subject, the provider the audience.
      const token = await new SignJWT({ buy: randomUUID(), mdl: claims.modelClassId ?? MODEL_CLASS, knd: claims.kind ?? 'buyer' })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
        .setIssuer('tokex')
        .setSubject(deliveryId)
        .setAudience(claims.providerId ?? providerId)
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
  tokex = await startFakeTokex({ [nodeId]: nodePublicSpki }, providerId);
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

    const { data: completion, response } = await client(agent, token).chat.completions.create(ask('What is tokex?')).withResponse();
    expect(response.headers.get('x-tokex-request-id')).toBe(completion.id); // the id the record carries

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
      model: UPSTREAM_MODEL,
      promptTokens: 14,
      completionTokens: 5,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      ttftMs: expect.any(Number),
      outputSha256: sha256(completion.choices[0]!.message.content!),
      status: 'ok',
      stream: false,
      keyId,
    });
    expect(record!.outputSha256).toBe(OUTPUT_SHA256);
    expect(Date.parse(record!.finishedAt)).toBeGreaterThanOrEqual(Date.parse(record!.startedAt));
    // The body is the batch's JSON, as signed: X-Tokex-Signature covers those exact bytes, with the node's registered key.
    const post = tokex.posts.find((p) => p.batch?.records.some((r) => r.requestId === completion.id))!;
    expect(post.headers).toEqual({ node: nodeId, signature: expect.stringMatching(/^[A-Za-z0-9_-]{86}$/), contentType: 'application/json' });
    expect(verifyUsageBatchSignature(post.body, post.headers.signature!, nodePublicSpki)).toBe(true);
    const tampered = Buffer.from(post.body);
    tampered[tampered.length - 2] ^= 0x01;
    expect(verifyUsageBatchSignature(tampered, post.headers.signature!, nodePublicSpki)).toBe(false);
    const sent = JSON.parse(post.body.toString('utf8')) as UsageBatch;
    expect(Object.keys(sent)).toEqual(['batchId', 'nodeId', 'createdAt', 'records']);
    expect(sent).toMatchObject({ batchId: expect.stringMatching(UUID), nodeId, createdAt: expect.any(String) });
    expect(post.rejected).toEqual([]);
  });

  test('a streamed completion that asked for usage gets the usage chunk; the record has the same counts', async () => {
    const { token, keyId, deliveryId } = await tokex.sign();
    const { data: stream, response } = await client(agent, token)
      .chat.completions.create({ ...ask('Stream, please'), stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    // The head waited for the first chunk, to name its id.
    expect(response.headers.get('x-tokex-request-id')).toBe(chunks[0]!.id);

    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from the fake upstream');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 5 });

    await agent.flush(5_000);
    expect(recordsOf(last.id)).toEqual([
      expect.objectContaining({
        requestId: last.id,
        deliveryId,
        keyId,
        model: UPSTREAM_MODEL,
        promptTokens: 14,
        completionTokens: 5,
        outputSha256: sha256(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')),
        status: 'ok',
        stream: true,
      }),
    ]);
    expect(recordsOf(last.id)[0]!.outputSha256).toBe(OUTPUT_SHA256); // the same text, streamed or not, hashes the same
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
    // No id from the upstream: the agent made one, and reports the request under it.
    const failedId = (failed as InstanceType<typeof OpenAI.InternalServerError>).headers.get('x-tokex-request-id');
    expect(failedId).toMatch(UUID);

    const gone = createServer();
    const goneUrl = await listen(gone);
    await shut(gone);
    const unreachable = await tokex.sign();
    let unreachableId: string | null = null;
    const orphan = await startAgent({ upstreamUrl: `${goneUrl}/v1` });
    try {
      const refused = await client(orphan, unreachable.token)
        .chat.completions.create(ask('anyone there?'))
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 502, code: 'upstream_unavailable' });
      unreachableId = (refused as InstanceType<typeof OpenAI.APIError>).headers?.get('x-tokex-request-id') ?? null;
      expect(unreachableId).toMatch(UUID);
      await orphan.flush(5_000);
    } finally {
      await orphan.close();
    }

    await agent.flush(5_000);
    for (const [{ deliveryId, keyId }, requestId] of [
      [failing, failedId],
      [unreachable, unreachableId],
    ] as const) {
      expect(tokex.acceptedRecords().filter((r) => r.deliveryId === deliveryId)).toEqual([
        expect.objectContaining({ requestId, deliveryId, keyId, promptTokens: 0, completionTokens: 0, outputSha256: sha256(''), status: 'error', stream: false }),
      ]);
    }
  });

  test('an upstream that sends no id: the agent makes one, sends it as X-Tokex-Request-Id and reports under it', async () => {
    const { token, deliveryId } = await tokex.sign();
    const whole = await fetch(`${agent.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(ask('noid')),
    });
    expect(whole.status).toBe(200);
    const wholeId = whole.headers.get('x-tokex-request-id');
    expect(wholeId).toMatch(UUID);
    expect(((await whole.json()) as { id?: string }).id).toBeUndefined();

    const before = upstream.requests.length;
    const streamed = await fetch(`${agent.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask('noid'), stream: true, stream_options: { include_usage: true } }),
    });
    const streamedId = streamed.headers.get('x-tokex-request-id');
    expect(streamedId).toMatch(UUID);
    expect(streamedId).not.toBe(wholeId);
    // The comment held back with the head is relayed, before the rest, byte for byte.
    expect(await streamed.text()).toBe(upstream.requests[before]!.sent);

    await agent.flush(5_000);
    const records = tokex.acceptedRecords().filter((r) => r.deliveryId === deliveryId);
    expect(records.map((r) => [r.requestId, r.stream, r.status, r.outputSha256])).toEqual([
      [wholeId, false, 'ok', OUTPUT_SHA256],
      [streamedId, true, 'ok', OUTPUT_SHA256],
    ]);
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
      expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).headers.get('x-tokex-request-id')).toBeNull(); // nothing is reported
    }
    const noKey = await fetch(`${agent.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(ask('x')) });
    expect(noKey.status).toBe(401);
    expect(upstream.requests.length).toBe(before);
  });

  test("GET /metrics serves the upstream's Prometheus text, with TGI's and llama.cpp's token counters under vLLM's names", async () => {
    const scrape = async () => {
      const answer = await fetch(`${agent.url}/metrics`); // public, as tokex scrapes it
      expect(answer.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      return { status: answer.status, text: await answer.text() };
    };
    try {
      upstream.metrics = 'vllm';
      const vllm = await scrape();
      expect(vllm).toEqual({ status: 200, text: UPSTREAM_METRICS.vllm }); // passed through untouched
      expect(parseVllmCounters(vllm.text)).toMatchObject({ prompt: 1234, generation: 567 });

      for (const kind of ['tgi', 'llamacpp'] as const) {
        upstream.metrics = kind;
        const { status, text } = await scrape();
        expect(status).toBe(200);
        expect(text.startsWith(UPSTREAM_METRICS[kind].trimEnd())).toBe(true); // the upstream's own lines stay
        expect(text).toContain(`\nvllm:prompt_tokens_total{model_name="${MODEL_CLASS}"} 1234\n`);
        expect(text).toContain(`\nvllm:generation_tokens_total{model_name="${MODEL_CLASS}"} 567\n`);
        expect(text).toContain('\n# TYPE vllm:prompt_tokens_total counter\n');
        // What tokex's counter scrape reads (metering/counter-scrapes.ts).
        expect([kind, parseVllmCounters(text)]).toEqual([kind, expect.objectContaining({ prompt: 1234, generation: 567 })]);
      }

      upstream.metrics = 500;
      const broken = await fetch(`${agent.url}/metrics`);
      expect(broken.status).toBe(502);
      await broken.body?.cancel();
    } finally {
      upstream.metrics = 'vllm';
    }
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

describe('the output hash and the metrics mapping', () => {
  test("outputSha256 hashes each choice's text in index order, whether streamed or whole, chat or completion", () => {
    const whole = new OutputText();
    whole.add(
      [
        { index: 1, message: { role: 'assistant', content: 'second' } },
        { index: 0, message: { role: 'assistant', content: 'first' } },
        { index: 2, message: { role: 'assistant', content: null, tool_calls: [{}] } },
      ],
      'message',
    );
    const streamed = new OutputText();
    for (const choices of [
      [{ index: 0, delta: { role: 'assistant', content: '' } }],
      [{ index: 1, delta: { content: 'sec' } }],
      [{ index: 0, delta: { content: 'fi' } }],
      [{ index: 0, delta: { content: 'rst' } }, { index: 1, delta: { content: 'ond' } }],
      [{ index: 0, delta: {}, finish_reason: 'stop' }],
      [],
    ]) {
      streamed.add(choices, 'delta');
    }
    expect(whole.sha256()).toBe(sha256('firstsecond'));
    expect(streamed.sha256()).toBe(sha256('firstsecond'));

    const completion = new OutputText();
    completion.add([{ index: 0, text: 'Hello, ' }], 'delta');
    completion.add([{ index: 0, text: 'wörld' }], 'delta');
    expect(completion.sha256()).toBe(sha256('Hello, wörld'));
    expect(new OutputText().sha256()).toBe(sha256(''));
  });

  test('the mapping keeps labels, adds model_name, stays before an OpenMetrics "# EOF", and leaves vLLM alone', () => {
    const labelled = withVllmTokenCounters('llamacpp:prompt_tokens_total{slot="0"} 7 1700000000000\nllamacpp:tokens_predicted_total{model_name="m"} 3\n# EOF\n', 'x"y');
    expect(labelled.split('\n')).toEqual([
      'llamacpp:prompt_tokens_total{slot="0"} 7 1700000000000',
      'llamacpp:tokens_predicted_total{model_name="m"} 3',
      expect.stringMatching(/^# HELP vllm:prompt_tokens_total /),
      '# TYPE vllm:prompt_tokens_total counter',
      'vllm:prompt_tokens_total{model_name="x\\"y",slot="0"} 7 1700000000000',
      expect.stringMatching(/^# HELP vllm:generation_tokens_total /),
      '# TYPE vllm:generation_tokens_total counter',
      'vllm:generation_tokens_total{model_name="m"} 3',
      '# EOF',
      '',
    ]);
    const nothingToMap = '# a server without token counters\nprocess_cpu_seconds_total 1\n';
    expect(withVllmTokenCounters(nothingToMap, MODEL_CLASS)).toBe(nothingToMap);
    expect(withVllmTokenCounters(UPSTREAM_METRICS.vllm, MODEL_CLASS)).toBe(UPSTREAM_METRICS.vllm);
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
      const sentBatch = (p: TokexPost) => JSON.parse(p.body.toString('utf8')) as UsageBatch;
      const refusedPosts = () => tokex.posts.filter((p) => p.status === 503 && sentBatch(p).records.some((r) => r.requestId === completion.id));
      await waitFor('two refused attempts', async () => (refusedPosts().length >= 2 ? true : undefined));
      expect(recordsOf(completion.id)).toEqual([]);

      tokex.answer = 202;
      await agent.flush(5_000);
      expect(recordsOf(completion.id)).toHaveLength(1);
      const [first, second] = refusedPosts();
      const batchId = sentBatch(first!).batchId;
      const accepted = tokex.posts.filter((p) => p.status === 202 && p.batch!.batchId === batchId);
      expect(accepted).toHaveLength(1);
      // Each attempt sent the same bytes with the same signature.
      expect(second!.body.equals(first!.body)).toBe(true);
      expect(accepted[0]!.body.equals(first!.body)).toBe(true);
      expect(accepted[0]!.headers.signature).toBe(first!.headers.signature);
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
      const sentBatch = (p: TokexPost) => JSON.parse(p.body.toString('utf8')) as UsageBatch;
      expect(tokex.posts.filter((p) => p.status === 401 && sentBatch(p).batchId === batch.batchId)).toHaveLength(1); // not retried
    } finally {
      await agent.close();
    }
  });
});

describe('what tokex received', () => {
  test('every record the agent posted in this file was well formed: tokex rejected none', () => {
    expect(tokex.posts.filter((p) => p.status === 202).length).toBeGreaterThan(0);
    expect(tokex.posts.flatMap((p) => p.rejected ?? [])).toEqual([]);
    expect(tokex.posts.filter((p) => p.status === 400)).toEqual([]);
  });
});
