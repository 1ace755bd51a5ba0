import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tokenizerFor, SUPPORTED_TOKENIZERS_DESCRIPTION, type Tokenizer } from '../markets/tokenizers.js';
import { chatPromptOf, completionPromptOf, labelValue, maxTokensOf, openAiError, readJson, RequestError, sendJson } from './stub-requests.js';
import { generateCompletion, longerTokenization, tokenPieces } from './stub-text.js';

// The text rules are part of the stub's published behaviour (tests and benches import them here).
export { chatPromptText, generateCompletion, longerTokenization } from './stub-text.js';

/**
 * A stand-in for a provider's inference server (vLLM and the like), for tests, benchmarks and
 * `npm run demo` (docs/demo.md); never a real node. It speaks the OpenAI API on plain `node:http`:
 *
 *   POST /v1/chat/completions   `chat.completion`, or SSE `chat.completion.chunk`s
 *   POST /v1/completions        `text_completion`, streamed or not
 *   GET  /v1/models             the default model
 *   GET  /health                200 `{}` (503 when down)
 *   GET  /metrics               vLLM's counters, Prometheus text
 *
 * Its answers are deterministic so tests know the true token counts:
 *
 * - **Prompt tokens** are the configured tokenizer's count of the prompt text, with nothing added:
 *   for chat, the text of every message's content in order (a string content, or the `text` of its
 *   `text` parts), joined with a single "\n" (see `chatPromptText`); roles, names and the chat
 *   template's own tokens are not counted, where a real server would count them. For completions,
 *   the `prompt` string.
 * - **The completion** is a function of the prompt text and `max_tokens` (default 16): words from a
 *   fixed list, drawn by a PRNG seeded with a hash of both, added one at a time while the count
 *   stays within `max_tokens`, with one-token filler words to land on it exactly. So
 *   `completion_tokens == max_tokens` and `finish_reason` is `length` (see `generateCompletion`).
 *
 * Misbehaviour is switched with `setBehaviour` (all off by default); see `StubBehaviour`.
 */

/** What the stub does wrong; everything off is an honest server. */
export interface StubBehaviour {
  /** `usage.completion_tokens` is reported this many percent above the truth, rounded up. */
  readonly inflateCompletionPct: number;
  /**
   * `usage.completion_tokens` is the length of a longer, non-canonical tokenization of the same
   * text (Velasco et al., arXiv 2505.21627): see `longerTokenization`. The text is unchanged.
   */
  readonly longerTokenization: boolean;
  /** Answers with the previous served response's `id` and `usage` (a replayed request id). */
  readonly replay: boolean;
  /** The /metrics counters grow this many percent less than the truth (0 to 100). */
  readonly underReportCountersPct: number;
  /** Every request, /health included, answers 503. */
  readonly down: boolean;
  /** Completion requests answer 500. */
  readonly failRequests: boolean;
}

export const HONEST_BEHAVIOUR: StubBehaviour = Object.freeze({
  inflateCompletionPct: 0,
  longerTokenization: false,
  replay: false,
  underReportCountersPct: 0,
  down: false,
  failRequests: false,
});

export interface StubModelServerOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** A tokenizer name from src/markets/tokenizers.ts; default `llama3`. */
  readonly tokenizer?: string;
  /** Listed by /v1/models, used when a request names no model, and shown at 0 in /metrics from the start. */
  readonly model?: string;
  /** Pause before the first streamed token (and added to a non-streamed answer's wait); default 0. */
  readonly ttftMs?: number;
  /** Pause between streamed tokens (and per further token, for a non-streamed answer); default 0. */
  readonly tokenDelayMs?: number;
  /** `max_tokens` when the request gives none; default 16. */
  readonly defaultMaxTokens?: number;
  /** Largest `max_tokens` accepted; default 32768. */
  readonly maxTokensLimit?: number;
  readonly behaviour?: Partial<StubBehaviour>;
}

export interface StubUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

/** One completion request the stub answered (or that the client abandoned mid-stream). */
export interface StubServedRequest {
  /** The `id` the response carried: a replayed one under `replay`. */
  readonly id: string;
  /** The id the stub made for this request; differs from `id` only when replayed. */
  readonly ownId: string;
  readonly replayed: boolean;
  readonly endpoint: '/v1/chat/completions' | '/v1/completions';
  readonly model: string;
  readonly stream: boolean;
  /** Whether the request asked for usage in the stream (`stream_options.include_usage`). */
  readonly includeUsage: boolean;
  /** The `Authorization` header as received (the stub accepts any). */
  readonly authorization: string | undefined;
  /** The prompt text that was counted (see the prompt-token rule above). */
  readonly prompt: string;
  readonly maxTokens: number;
  /** The completion text sent (for an aborted stream, the part sent before the client left). */
  readonly text: string;
  readonly finishReason: 'length' | 'stop' | 'abort';
  /** The truth: the tokenizer's counts of `prompt` and `text`. */
  readonly generated: { readonly promptTokens: number; readonly completionTokens: number };
  /** The usage the stub answered with (or would have, for a stream without include_usage). */
  readonly reported: StubUsage;
  /** Whether `reported` was actually sent to the client. */
  readonly usageSent: boolean;
  /** Epoch milliseconds. */
  readonly receivedAt: number;
  readonly firstTokenAt: number | undefined;
  readonly finishedAt: number;
}

export interface StubCounters {
  /** Every HTTP request received. */
  readonly httpRequests: number;
  /** Completion requests answered 200 (the length of `requests`, less aborted streams). */
  readonly served: number;
  /** Streams the client left before the end. */
  readonly aborted: number;
  /** 500s under `failRequests`. */
  readonly failed: number;
  /** 503s under `down`. */
  readonly unavailable: number;
  /** 4xx answers to malformed requests. */
  readonly rejected: number;
  /** True totals of what was generated (aborted streams included, as vLLM counts them). */
  readonly generated: { readonly promptTokens: number; readonly completionTokens: number };
  /** What /metrics shows, summed over models (less than `generated` under `underReportCountersPct`). */
  readonly metrics: { readonly promptTokens: number; readonly generationTokens: number; readonly requestSuccess: number };
}

export interface StubModelServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `url + '/v1'`: what an OpenAI client takes as its base URL. */
  readonly baseUrl: string;
  readonly port: number;
  readonly tokenizer: Tokenizer;
  readonly behaviour: StubBehaviour;
  /** A copy of the log of completion requests served, oldest first. */
  readonly requests: readonly StubServedRequest[];
  readonly counters: StubCounters;
  setBehaviour(patch: Partial<StubBehaviour>): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The server

interface ModelMetrics {
  // Kept in hundredths of a token (or request) so under-reporting by any whole percentage is
  // exact and the exposed counters stay monotonic whatever the percentage does over time.
  prompt: number;
  generation: number;
  success: Map<string, number>;
}

export async function startStubModelServer(options: StubModelServerOptions = {}): Promise<StubModelServer> {
  const tokenizerName = options.tokenizer ?? 'llama3';
  const found = await tokenizerFor(tokenizerName);
  if (!found) throw new Error(`unknown tokenizer "${tokenizerName}": ${SUPPORTED_TOKENIZERS_DESCRIPTION}`);
  const tokenizer: Tokenizer = found;
  const defaultModel = options.model ?? 'stub-model';
  const ttftMs = options.ttftMs ?? 0;
  const tokenDelayMs = options.tokenDelayMs ?? 0;
  const defaultMaxTokens = options.defaultMaxTokens ?? 16;
  const maxTokensLimit = options.maxTokensLimit ?? 32_768;
  let behaviour: StubBehaviour = checkedBehaviour({ ...HONEST_BEHAVIOUR, ...options.behaviour });

  const log: StubServedRequest[] = [];
  const counts = { httpRequests: 0, served: 0, aborted: 0, failed: 0, unavailable: 0, rejected: 0, promptTokens: 0, completionTokens: 0 };
  const metrics = new Map<string, ModelMetrics>();
  const metricsOf = (model: string): ModelMetrics => {
    let entry = metrics.get(model);
    if (!entry) metrics.set(model, (entry = { prompt: 0, generation: 0, success: new Map() }));
    return entry;
  };
  metricsOf(defaultModel);
  /** The last response the stub answered honestly with an id of its own: what `replay` repeats. */
  let lastAnswer: { id: string; usage: StubUsage } | undefined;
  const closing = new AbortController();

  const pause = async (ms: number): Promise<void> => {
    if (ms <= 0 || closing.signal.aborted) return;
    try {
      await sleep(ms, undefined, { signal: closing.signal });
    } catch {
      // closing: stop waiting
    }
  };

  function count(model: string, promptTokens: number, completionTokens: number, finishReason: string | undefined): void {
    counts.promptTokens += promptTokens;
    counts.completionTokens += completionTokens;
    const keep = 100 - behaviour.underReportCountersPct;
    const entry = metricsOf(model);
    entry.prompt += promptTokens * keep;
    entry.generation += completionTokens * keep;
    if (finishReason) entry.success.set(finishReason, (entry.success.get(finishReason) ?? 0) + keep);
  }

  async function completion(req: IncomingMessage, res: ServerResponse, endpoint: StubServedRequest['endpoint'], receivedAt: number): Promise<void> {
    const body = await readJson(req);
    if (behaviour.failRequests) {
      counts.failed++;
      return sendJson(res, 500, openAiError('the stub model server failed the request (behaviour "failRequests")', 'server_error'));
    }
    const chat = endpoint === '/v1/chat/completions';
    const model = typeof body.model === 'string' && body.model !== '' ? body.model : defaultModel;
    const prompt = chat ? chatPromptOf(body) : completionPromptOf(body);
    const maxTokens = maxTokensOf(body, chat, defaultMaxTokens, maxTokensLimit);
    if (body.n !== undefined && body.n !== null && body.n !== 1) throw new RequestError(400, 'the stub serves n = 1 only', 'n');
    const stream = body.stream === true;
    const streamOptions = body.stream_options as { include_usage?: unknown } | null | undefined;
    const includeUsage = stream && streamOptions?.include_usage === true;

    const { text, completionTokens } = generateCompletion(tokenizer, prompt, maxTokens);
    const promptTokens = tokenizer.count(prompt);
    const finishReason = completionTokens >= maxTokens ? 'length' : 'stop';
    const ownId = `${chat ? 'chatcmpl' : 'cmpl'}-${randomBytes(16).toString('hex')}`;
    const created = Math.floor(receivedAt / 1000);

    let claimedCompletion = behaviour.longerTokenization ? longerTokenization(tokenizer, text).length : completionTokens;
    if (behaviour.inflateCompletionPct > 0) claimedCompletion = Math.ceil((claimedCompletion * (100 + behaviour.inflateCompletionPct)) / 100);
    let id = ownId;
    let usage: StubUsage = { promptTokens, completionTokens: claimedCompletion, totalTokens: promptTokens + claimedCompletion };
    const replayed = behaviour.replay && lastAnswer !== undefined;
    if (replayed) ({ id, usage } = lastAnswer!);
    else lastAnswer = { id, usage };
    const wireUsage = { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens };

    const record = (sentText: string, reason: StubServedRequest['finishReason'], firstTokenAt: number | undefined, usageSent: boolean): void => {
      const generated = { promptTokens, completionTokens: reason === 'abort' ? tokenizer.count(sentText) : completionTokens };
      count(model, generated.promptTokens, generated.completionTokens, reason === 'abort' ? undefined : reason);
      if (reason === 'abort') counts.aborted++;
      else counts.served++;
      log.push({
        id, ownId, replayed, endpoint, model, stream, includeUsage,
        authorization: req.headers.authorization,
        prompt, maxTokens, text: sentText, finishReason: reason, generated,
        reported: usage, usageSent, receivedAt, firstTokenAt, finishedAt: Date.now(),
      });
    };

    if (!stream) {
      await pause(ttftMs + tokenDelayMs * Math.max(0, completionTokens - 1));
      const choice = chat
        ? { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finishReason }
        : { index: 0, text, logprobs: null, finish_reason: finishReason };
      record(text, finishReason, Date.now(), true);
      return sendJson(res, 200, { id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage: wireUsage });
    }

    // Streamed: one chunk per token, as vLLM sends them.
    let gone = false;
    res.on('close', () => {
      if (!res.writableFinished) gone = true;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    const send = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
      const chunk = { id, object, created, model, choices, ...(includeUsage ? { usage: null } : {}), ...extra };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    };
    const pieces = tokenPieces(tokenizer, text);
    let sent = '';
    let firstTokenAt: number | undefined;
    await pause(ttftMs);
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0) await pause(tokenDelayMs);
      if (gone || closing.signal.aborted) break;
      if (i === 0 && chat) send([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
      send([chat ? { index: 0, delta: { content: pieces[i] }, logprobs: null, finish_reason: null } : { index: 0, text: pieces[i], logprobs: null, finish_reason: null }]);
      firstTokenAt ??= Date.now();
      sent += pieces[i];
    }
    if (gone || closing.signal.aborted) {
      record(sent, 'abort', firstTokenAt, false);
      res.destroy();
      return;
    }
    // Recorded before the last bytes go out, so a client that has read [DONE] sees the counters.
    record(text, finishReason, firstTokenAt, includeUsage);
    send([chat ? { index: 0, delta: {}, logprobs: null, finish_reason: finishReason } : { index: 0, text: '', logprobs: null, finish_reason: finishReason }]);
    if (includeUsage) send([], { usage: wireUsage });
    res.end('data: [DONE]\n\n');
  }

  function metricsText(): string {
    const lines: string[] = [];
    const value = (hundredths: number): string => `${Math.floor(hundredths / 100)}.0`;
    const counter = (name: string, help: string, samples: string[]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...samples);
    };
    const models = [...metrics.entries()];
    counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', models.map(([model, m]) => `vllm:prompt_tokens_total{model_name="${labelValue(model)}"} ${value(m.prompt)}`));
    counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', models.map(([model, m]) => `vllm:generation_tokens_total{model_name="${labelValue(model)}"} ${value(m.generation)}`));
    counter(
      'vllm:request_success_total',
      'Count of successfully processed requests.',
      models.flatMap(([model, m]) =>
        ['length', 'stop'].map((reason) => `vllm:request_success_total{finished_reason="${reason}",model_name="${labelValue(model)}"} ${value(m.success.get(reason) ?? 0)}`),
      ),
    );
    return `${lines.join('\n')}\n`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    counts.httpRequests++;
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    if (behaviour.down) {
      counts.unavailable++;
      req.resume();
      return sendJson(res, 503, openAiError('the model server is unavailable (behaviour "down")', 'service_unavailable'));
    }
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /health':
        return sendJson(res, 200, {});
      case 'GET /metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(metricsText());
        return;
      case 'GET /v1/models':
        return sendJson(res, 200, { object: 'list', data: [{ id: defaultModel, object: 'model', created: 0, owned_by: 'tokex-stub' }] });
      case 'POST /v1/chat/completions':
      case 'POST /v1/completions':
        return completion(req, res, path as StubServedRequest['endpoint'], receivedAt);
      default: {
        req.resume();
        const known = ['/health', '/metrics', '/v1/models', '/v1/chat/completions', '/v1/completions'].includes(path);
        throw new RequestError(known ? 405 : 404, known ? `${req.method} is not allowed on ${path}` : `no route ${path}`);
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof RequestError) {
        counts.rejected++;
        sendJson(res, error.status, openAiError(error.message, 'invalid_request_error', error.param));
      } else {
        sendJson(res, 500, openAiError(`stub model server error: ${(error as Error)?.message ?? String(error)}`, 'server_error'));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address, family } = server.address() as AddressInfo;
  const url = `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;

  return {
    url,
    baseUrl: `${url}/v1`,
    port,
    tokenizer,
    get behaviour() {
      return behaviour;
    },
    get requests() {
      return [...log];
    },
    get counters(): StubCounters {
      let prompt = 0;
      let generation = 0;
      let success = 0;
      for (const m of metrics.values()) {
        prompt += Math.floor(m.prompt / 100);
        generation += Math.floor(m.generation / 100);
        for (const s of m.success.values()) success += Math.floor(s / 100);
      }
      return {
        httpRequests: counts.httpRequests,
        served: counts.served,
        aborted: counts.aborted,
        failed: counts.failed,
        unavailable: counts.unavailable,
        rejected: counts.rejected,
        generated: { promptTokens: counts.promptTokens, completionTokens: counts.completionTokens },
        metrics: { promptTokens: prompt, generationTokens: generation, requestSuccess: success },
      };
    },
    setBehaviour(patch: Partial<StubBehaviour>) {
      behaviour = checkedBehaviour({ ...behaviour, ...patch });
    },
    async close() {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function checkedBehaviour(b: StubBehaviour): StubBehaviour {
  if (!Number.isInteger(b.inflateCompletionPct) || b.inflateCompletionPct < 0) {
    throw new Error(`inflateCompletionPct must be a whole number >= 0, not ${b.inflateCompletionPct}`);
  }
  if (!Number.isInteger(b.underReportCountersPct) || b.underReportCountersPct < 0 || b.underReportCountersPct > 100) {
    throw new Error(`underReportCountersPct must be a whole number from 0 to 100, not ${b.underReportCountersPct}`);
  }
  return Object.freeze({
    inflateCompletionPct: b.inflateCompletionPct,
    longerTokenization: b.longerTokenization === true,
    replay: b.replay === true,
    underReportCountersPct: b.underReportCountersPct,
    down: b.down === true,
    failRequests: b.failRequests === true,
  });
}
