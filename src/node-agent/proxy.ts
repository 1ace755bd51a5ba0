import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type DeliveryKeyClaims, DeliveryKeyError } from '../protocol/delivery-key-verifier.js';
import type { UsageRecord } from '../protocol/usage-batch.js';
import { drained, readBody, sendError, sendJson } from './http-replies.js';
import { hasContent, isObject, modelOf, OutputText, requestIdOf, type Usage, usageOf } from './openai-answer.js';
import { type SseEvent, SseSplitter } from './sse.js';
import { withVllmTokenCounters } from './upstream-metrics.js';

/**
 * The node agent's reverse proxy: buyers send OpenAI requests with their delivery key as the API
 * key; the agent verifies the key offline, forwards the request to the provider's own inference
 * server, relays the answer as it comes, and reports one UsageRecord per served request. Every
 * forwarded request is answered with `X-Tokex-Request-Id`: the requestId its record carries, so
 * a buyer can match its own counts (buyer reports) and a dispute to a record. It also serves the
 * upstream's Prometheus metrics, with TGI's and llama.cpp's token counters under vLLM's names.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type AgentLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export const MAX_REQUEST_BODY_BYTES = 4 * 1024 * 1024;
/** The response header naming the id the request is reported under (api.md, v1). */
export const REQUEST_ID_HEADER = 'x-tokex-request-id';
const PROXIED_PATHS = new Set(['/v1/chat/completions', '/v1/completions']);
const HEALTH_TIMEOUT_MS = 2_000;
const METRICS_TIMEOUT_MS = 5_000;
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** What the proxy needs of RemoteDeliveryKeys. */
export interface DeliveryKeySource {
  readonly lastRefreshedAt: Date | null;
  verify(token: string): Promise<DeliveryKeyClaims>;
}

export interface ProxyOptions {
  readonly keys: DeliveryKeySource;
  /** The model class this node serves: keys for another one are refused. */
  readonly modelClass: string;
  /** The inference server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1 */
  readonly upstreamUrl: string;
  readonly upstreamApiKey?: string;
  /** The upstream's Prometheus metrics; default `/metrics` at the origin of upstreamUrl (vLLM, TGI, llama.cpp). */
  readonly upstreamMetricsUrl?: string;
  /** Called once per forwarded request, after its answer ended. */
  readonly onRecord: (record: UsageRecord) => void;
  /** Extra fields for GET /health (the spool's state). */
  readonly describe?: () => Record<string, unknown>;
  /** False while shutting down: /health then answers ok: false. */
  readonly isAccepting?: () => boolean;
  readonly log?: AgentLog;
  readonly fetch?: typeof globalThis.fetch;
  readonly maxBodyBytes?: number;
}

export function createProxyServer(options: ProxyOptions): Server {
  const proxy = new AgentProxy(options);
  return createServer((req, res) => {
    proxy.handle(req, res).catch((error: unknown) => {
      proxy.log('error', 'request handling failed', { err: error instanceof Error ? error.message : String(error), path: req.url });
      if (!res.headersSent) sendError(res, 500, 'server_error', 'internal_error', 'the node agent failed to handle the request');
      else res.destroy();
    });
  });
}

/** What one forwarded request learned, for its UsageRecord. */
interface Exchange {
  /** Fixed when the answer's head is sent (it is the X-Tokex-Request-Id header). */
  requestId: string | null;
  model: string | null;
  usage: Usage | null;
  ttftMs: number | null;
  failed: boolean;
  /** The client went away before the answer ended (the upstream is then aborted). */
  clientClosed: boolean;
  stream: boolean;
  /** The output text relayed to the buyer. */
  readonly output: OutputText;
}

class AgentProxy {
  readonly log: AgentLog;
  private readonly upstreamBase: string;
  private readonly metricsUrl: string;
  private readonly fetch: typeof globalThis.fetch;
  private readonly maxBodyBytes: number;

  constructor(private readonly options: ProxyOptions) {
    this.log = options.log ?? (() => undefined);
    this.upstreamBase = options.upstreamUrl.replace(/\/+$/, '');
    this.metricsUrl = options.upstreamMetricsUrl ?? new URL('/metrics', options.upstreamUrl).href;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.fetch = (input, init) => fetchImpl(input, init);
    this.maxBodyBytes = options.maxBodyBytes ?? MAX_REQUEST_BODY_BYTES;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (req.method === 'GET' && path === '/health') return this.health(res);
    if (req.method === 'GET' && path === '/metrics') return this.metrics(res);
    if (req.method !== 'POST' || !PROXIED_PATHS.has(path)) {
      return sendError(res, 404, 'invalid_request_error', 'not_found', `${req.method} ${path} is not served here: use POST /v1/chat/completions or /v1/completions`);
    }
    const claims = await this.authorize(req, res);
    if (!claims) return;

    const body = await readBody(req, this.maxBodyBytes);
    if (body === null) {
      res.setHeader('connection', 'close'); // the rest of the body is not read
      return sendError(res, 413, 'invalid_request_error', 'request_too_large', `the request body is larger than ${this.maxBodyBytes} bytes`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (!isObject(parsed)) return sendError(res, 400, 'invalid_request_error', 'invalid_json', 'the request body must be a JSON object');
    await this.forward(path.slice('/v1'.length), body, parsed, claims, res);
  }

  /** The key's claims, or null once the refusal is sent. */
  private async authorize(req: IncomingMessage, res: ServerResponse): Promise<DeliveryKeyClaims | null> {
    const refuse = (message: string) => {
      sendError(res, 401, 'invalid_request_error', 'invalid_api_key', message);
      return null;
    };
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return refuse('Missing delivery key: send it as "Authorization: Bearer <delivery key>"');
    // Never call tokex per request: until the first refresh succeeds the agent cannot judge keys.
    if (this.options.keys.lastRefreshedAt === null) {
      sendError(res, 503, 'server_error', 'keys_unavailable', "the node has not loaded tokex's delivery keys yet; retry shortly");
      return null;
    }
    let claims: DeliveryKeyClaims;
    try {
      claims = await this.options.keys.verify(token);
    } catch (error) {
      if (error instanceof DeliveryKeyError) return refuse(`Invalid delivery key (${error.reason}): ${error.message}`);
      this.log('error', 'delivery keys unavailable', { err: error instanceof Error ? error.message : String(error) });
      sendError(res, 503, 'server_error', 'keys_unavailable', "the node cannot load tokex's delivery keys; retry shortly");
      return null;
    }
    if (claims.modelClassId !== this.options.modelClass) {
      return refuse(`Invalid delivery key (wrong_model_class): the delivery is for model class "${claims.modelClassId}", this node serves "${this.options.modelClass}"`);
    }
    return claims;
  }

  private async forward(upstreamPath: string, body: Buffer, request: Record<string, unknown>, claims: DeliveryKeyClaims, res: ServerResponse): Promise<void> {
    const streamRequested = request.stream === true;
    const clientOptions = isObject(request.stream_options) ? request.stream_options : {};
    const clientWantsUsage = clientOptions.include_usage === true;
    // The final usage chunk is what the record counts, so it is always asked for.
    const upstreamBody = streamRequested ? JSON.stringify({ ...request, stream_options: { ...clientOptions, include_usage: true } }) : body;

    const startedAtMs = Date.now();
    const t0 = performance.now();
    const elapsed = () => Math.max(0, Math.round(performance.now() - t0));
    const exchange: Exchange = { requestId: null, model: null, usage: null, ttftMs: null, failed: false, clientClosed: false, stream: false, output: new OutputText() };
    const upstreamAbort = new AbortController();
    res.on('close', () => {
      if (res.writableFinished) return;
      exchange.clientClosed = true;
      upstreamAbort.abort(); // stop generating for nobody
    });

    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: streamRequested ? 'text/event-stream' : 'application/json',
      };
      if (this.options.upstreamApiKey) headers.authorization = `Bearer ${this.options.upstreamApiKey}`;
      let upstream: Response;
      try {
        upstream = await this.fetch(`${this.upstreamBase}${upstreamPath}`, { method: 'POST', headers, body: upstreamBody, signal: upstreamAbort.signal });
      } catch (error) {
        if (!exchange.clientClosed) {
          exchange.failed = true;
          exchange.requestId = randomUUID();
          this.log('warn', 'the inference server could not be reached', { err: error instanceof Error ? error.message : String(error) });
          sendError(res, 502, 'server_error', 'upstream_unavailable', 'the inference server could not be reached', { [REQUEST_ID_HEADER]: exchange.requestId });
        }
        return;
      }
      if (!upstream.ok) exchange.failed = true;
      const contentType = upstream.headers.get('content-type') ?? '';
      if (upstream.ok && upstream.body && contentType.includes('text/event-stream')) {
        exchange.stream = true;
        await this.relayStream(upstream, contentType, clientWantsUsage, exchange, res, t0);
      } else {
        await this.relayWhole(upstream, contentType, exchange, res);
      }
    } catch (error) {
      if (!exchange.clientClosed) {
        exchange.failed = true;
        this.log('warn', 'the inference server failed mid-answer', { err: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) {
          exchange.requestId ??= randomUUID();
          sendError(res, 502, 'server_error', 'upstream_failed', 'the inference server failed', { [REQUEST_ID_HEADER]: exchange.requestId });
        } else res.end();
      }
    } finally {
      exchange.ttftMs ??= elapsed();
      const record = toRecord(exchange, claims, request, startedAtMs, elapsed());
      this.options.onRecord(record);
      this.log('info', 'request served', {
        requestId: record.requestId,
        deliveryId: record.deliveryId,
        keyId: record.keyId,
        status: record.status,
        promptTokens: record.promptTokens,
        completionTokens: record.completionTokens,
        ttftMs: record.ttftMs,
        ms: elapsed(),
        stream: record.stream,
        ...(exchange.clientClosed ? { clientClosed: true } : {}),
      });
    }
  }

  private async relayWhole(upstream: Response, contentType: string, exchange: Exchange, res: ServerResponse): Promise<void> {
    const bytes = Buffer.from(await upstream.arrayBuffer());
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
    if (isObject(json)) {
      exchange.requestId = requestIdOf(json.id);
      exchange.model = modelOf(json.model);
      if (upstream.ok) {
        exchange.usage = usageOf(json.usage);
        exchange.output.add(json.choices, 'message');
      }
    }
    exchange.requestId ??= randomUUID();
    res.writeHead(upstream.status, {
      'content-type': contentType || 'application/json',
      'content-length': bytes.length,
      [REQUEST_ID_HEADER]: exchange.requestId,
    });
    res.end(bytes);
  }

  /**
   * Relays an SSE answer event by event. The head waits for the first event carrying data (the
   * first chunk), because the X-Tokex-Request-Id it sends is that chunk's `id`; comments and
   * keep-alives before it are held and sent after the head.
   */
  private async relayStream(upstream: Response, contentType: string, clientWantsUsage: boolean, exchange: Exchange, res: ServerResponse, t0: number): Promise<void> {
    let held: SseEvent[] | null = [];
    const write = async (event: SseEvent) => {
      if (!res.write(event.raw)) await drained(res);
    };
    const sendHead = async () => {
      exchange.requestId ??= randomUUID();
      res.writeHead(upstream.status, { 'content-type': contentType, 'cache-control': 'no-cache', 'x-accel-buffering': 'no', [REQUEST_ID_HEADER]: exchange.requestId });
      res.flushHeaders();
      const before = held ?? [];
      held = null;
      for (const event of before) await write(event);
    };
    const splitter = new SseSplitter();
    const relay = async (events: SseEvent[]) => {
      for (const event of events) {
        const leftOut = this.inspect(event, clientWantsUsage, exchange, t0);
        if (held !== null) {
          if (!leftOut) held.push(event);
          if (event.data !== null) await sendHead();
        } else if (!leftOut) await write(event);
      }
    };
    for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
      await relay(splitter.push(chunk, performance.now()));
    }
    await relay(splitter.end());
    if (held !== null) await sendHead(); // a stream with no data at all
    res.end();
  }

  /** Reads what the record needs from one SSE event; true if the event is to be left out. */
  private inspect(event: SseEvent, clientWantsUsage: boolean, exchange: Exchange, t0: number): boolean {
    if (event.data === null || event.data === '[DONE]') return false;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch {
      return false;
    }
    if (!isObject(json)) return false;
    exchange.requestId ??= requestIdOf(json.id);
    exchange.model ??= modelOf(json.model);
    if (json.error !== undefined && json.error !== null) exchange.failed = true; // vLLM reports failures mid-stream this way
    const usage = usageOf(json.usage);
    if (usage) exchange.usage = usage;
    const choices = json.choices;
    exchange.output.add(choices, 'delta');
    if (exchange.ttftMs === null && Array.isArray(choices) && choices.some(hasContent)) {
      exchange.ttftMs = Math.max(0, Math.round(event.startedAt - t0));
    }
    // The usage-only chunk the agent asked for on the client's behalf.
    return !clientWantsUsage && usage !== null && Array.isArray(choices) && choices.length === 0;
  }

  private async health(res: ServerResponse): Promise<void> {
    let upstream = false;
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.options.upstreamApiKey) headers.authorization = `Bearer ${this.options.upstreamApiKey}`;
      const answer = await this.fetch(`${this.upstreamBase}/models`, { headers, signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
      upstream = answer.ok;
      await answer.body?.cancel();
    } catch {
      upstream = false;
    }
    const keysRefreshedAt = this.options.keys.lastRefreshedAt;
    const ok = keysRefreshedAt !== null && (this.options.isAccepting?.() ?? true);
    sendJson(res, ok && upstream ? 200 : 503, { ok, upstream, keysRefreshedAt: keysRefreshedAt?.toISOString() ?? null, ...this.options.describe?.() });
  }

  /** The upstream's Prometheus text, with vLLM's token counters added where it has other names. */
  private async metrics(res: ServerResponse): Promise<void> {
    let text: string;
    try {
      const headers: Record<string, string> = { accept: 'text/plain;version=0.0.4;q=1, */*;q=0.1' };
      if (this.options.upstreamApiKey) headers.authorization = `Bearer ${this.options.upstreamApiKey}`;
      const answer = await this.fetch(this.metricsUrl, { headers, signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
      if (!answer.ok) {
        await answer.body?.cancel();
        throw new Error(`it answered ${answer.status}`);
      }
      text = await answer.text();
    } catch (error) {
      this.log('warn', "the inference server's metrics could not be read", { err: error instanceof Error ? error.message : String(error), url: this.metricsUrl });
      const message = "the inference server's metrics could not be read\n";
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(message) }).end(message);
      return;
    }
    const body = withVllmTokenCounters(text, this.options.modelClass);
    res.writeHead(200, { 'content-type': PROMETHEUS_TEXT, 'content-length': Buffer.byteLength(body) }).end(body);
  }
}

function toRecord(exchange: Exchange, claims: DeliveryKeyClaims, request: Record<string, unknown>, startedAtMs: number, durationMs: number): UsageRecord {
  const usage = exchange.failed ? null : exchange.usage;
  // The v1 fields in the published order, then the optional additions.
  return {
    requestId: exchange.requestId ?? randomUUID(), // the X-Tokex-Request-Id sent, whenever an answer was sent
    deliveryId: claims.deliveryId,
    model: exchange.model ?? modelOf(request.model) ?? '',
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    startedAt: new Date(startedAtMs).toISOString(),
    // From the monotonic clock, so a wall-clock step never puts the finish before the start.
    finishedAt: new Date(startedAtMs + durationMs).toISOString(),
    ttftMs: Math.min(exchange.ttftMs ?? durationMs, durationMs),
    outputSha256: exchange.output.sha256(),
    // A buyer who hangs up has not been failed by the node: only the upstream's failures, refusals
    // and answers without usage count as errors.
    status: exchange.failed || (usage === null && !exchange.clientClosed) ? 'error' : 'ok',
    stream: exchange.stream,
    keyId: claims.keyId,
  };
}

