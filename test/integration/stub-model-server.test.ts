import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { tokenizerFor, type Tokenizer } from '../../src/markets/tokenizers.js';
import {
  chatPromptText,
  generateCompletion,
  longerTokenization,
  startStubModelServer,
  type StubModelServer,
} from '../support/stub-model-server.js';
import { waitFor } from '../support/wait-for.js';

const llama3 = (await tokenizerFor('llama3')) as Tokenizer;
const MESSAGES = [
  { role: 'system' as const, content: 'You are a terse assistant.' },
  { role: 'user' as const, content: 'Name three things traded on tokex.' },
];

function clientOf(stub: StubModelServer): OpenAI {
  return new OpenAI({ apiKey: 'x', baseURL: stub.baseUrl, maxRetries: 0 });
}

/** `vllm:<name>_total` samples of a Prometheus text, summed over label sets matching `labels`. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) {
      sum += Number(match[3]);
      seen = true;
    }
  }
  if (!seen) throw new Error(`no ${name} ${JSON.stringify(labels)} in\n${text}`);
  return sum;
}

async function metricsOf(stub: StubModelServer): Promise<string> {
  const res = await fetch(`${stub.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

describe('stub model server, honest', () => {
  let stub: StubModelServer;
  let client: OpenAI;
  beforeAll(async () => {
    stub = await startStubModelServer({ model: 'llama-3.1-8b-instruct' });
    client = clientOf(stub);
  });
  afterAll(() => stub.close());

  test('listens on 127.0.0.1 and names its URLs', async () => {
    expect(stub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stub.baseUrl).toBe(`${stub.url}/v1`);
    const health = await fetch(`${stub.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({});
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['llama-3.1-8b-instruct']);
  });

  test('chat completion: OpenAI shape, usage equals a re-count of the text', async () => {
    const answer = await client.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: MESSAGES, max_tokens: 24 });
    expect(answer).toMatchObject({ object: 'chat.completion', model: 'llama-3.1-8b-instruct' });
    expect(answer.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(answer.created).toBeGreaterThan(1_600_000_000);
    expect(answer.choices).toHaveLength(1);
    const [choice] = answer.choices;
    expect(choice).toMatchObject({ index: 0, finish_reason: 'length', logprobs: null, message: { role: 'assistant' } });
    const text = choice.message.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    // The prompt rule: message contents joined with "\n", no chat template.
    const prompt = 'You are a terse assistant.\nName three things traded on tokex.';
    expect(chatPromptText(MESSAGES)).toBe(prompt);
    expect(answer.usage).toEqual({ prompt_tokens: llama3.count(prompt), completion_tokens: 24, total_tokens: llama3.count(prompt) + 24 });
    expect(llama3.count(text)).toBe(24);

    const logged = stub.requests.at(-1)!;
    expect(logged).toMatchObject({
      id: answer.id, ownId: answer.id, replayed: false, endpoint: '/v1/chat/completions', model: 'llama-3.1-8b-instruct', stream: false,
      authorization: 'Bearer x', prompt, text, maxTokens: 24, finishReason: 'length', usageSent: true,
      generated: { promptTokens: llama3.count(prompt), completionTokens: 24 },
      reported: { promptTokens: llama3.count(prompt), completionTokens: 24, totalTokens: llama3.count(prompt) + 24 },
    });
  });

  test('the text is a function of the prompt and max_tokens; default max_tokens is 16', async () => {
    const ask = async (max_tokens?: number, content = 'same prompt') =>
      (await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], ...(max_tokens ? { max_tokens } : {}) })).choices[0].message.content!;
    const a = await ask(16);
    expect(await ask(16)).toBe(a);
    expect(await ask()).toBe(a);
    expect(llama3.count(a)).toBe(16);
    expect(await ask(16, 'another prompt')).not.toBe(a);
    expect(llama3.count(await ask(1))).toBe(1);
    expect(llama3.count(await ask(257))).toBe(257);
    expect(generateCompletion(llama3, 'same prompt', 16).text).toBe(a);
  });

  test('chat stream with include_usage: deltas, then a usage chunk with no choices', async () => {
    const stream = await client.chat.completions.create({
      model: 'llama-3.1-8b-instruct', messages: MESSAGES, max_tokens: 20, stream: true, stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^chatcmpl-/);
    for (const chunk of chunks) expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'llama-3.1-8b-instruct' });
    expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant', content: '' });

    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const text = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? '')).join('');
    expect(last.usage).toEqual({ prompt_tokens: llama3.count(chatPromptText(MESSAGES)), completion_tokens: llama3.count(text), total_tokens: llama3.count(chatPromptText(MESSAGES)) + 20 });
    expect(llama3.count(text)).toBe(20);
    // Every other chunk carries usage: null, as OpenAI sends it.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    const finishing = chunks.at(-2)!;
    expect(finishing.choices[0]).toMatchObject({ finish_reason: 'length', delta: {} });
    // One chunk per token, after the role chunk.
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(20);
    expect(stub.requests.at(-1)).toMatchObject({ stream: true, includeUsage: true, usageSent: true, text });
  });

  test('chat stream without include_usage has no usage at all', async () => {
    const stream = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 5, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    for (const chunk of chunks) expect('usage' in chunk).toBe(false);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('length');
    const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
    expect(llama3.count(text)).toBe(5);
    expect(stub.requests.at(-1)).toMatchObject({ stream: true, includeUsage: false, usageSent: false, text, generated: { completionTokens: 5 } });
  });

  test('the wire format of a stream: data: lines, blank-line separated, ending [DONE]', async () => {
    const res = await fetch(`${stub.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const raw = await res.text();
    expect(raw.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
    const events = raw.split('\n\n').filter((e) => e !== '');
    for (const event of events) expect(event).toMatch(/^data: /);
    expect(events).toHaveLength(1 + 3 + 1 + 1 + 1); // role, 3 tokens, finish, usage, [DONE]
    expect(stub.requests.at(-1)!.authorization).toBeUndefined();
  });

  test('completions, streamed and not', async () => {
    const answer = await client.completions.create({ model: 'llama-3.1-8b-instruct', prompt: 'Once upon a time', max_tokens: 12 });
    expect(answer.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(answer).toMatchObject({ object: 'text_completion', model: 'llama-3.1-8b-instruct' });
    expect(answer.choices[0]).toMatchObject({ index: 0, finish_reason: 'length', logprobs: null });
    expect(answer.usage).toEqual({ prompt_tokens: llama3.count('Once upon a time'), completion_tokens: 12, total_tokens: llama3.count('Once upon a time') + 12 });
    expect(llama3.count(answer.choices[0].text)).toBe(12);

    const stream = await client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 12, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Completion[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    for (const chunk of chunks) expect(chunk).toMatchObject({ object: 'text_completion', model: 'x' });
    const text = chunks.flatMap((c) => c.choices.map((choice) => choice.text)).join('');
    expect(text).toBe(answer.choices[0].text);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual(answer.usage);
  });

  test('malformed requests get OpenAI-style 400s', async () => {
    await expect(client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 0 })).rejects.toMatchObject({ status: 400, param: 'max_tokens' });
    await expect(client.chat.completions.create({ model: 'm', messages: [] })).rejects.toMatchObject({ status: 400 });
    const res = await fetch(`${stub.baseUrl}/chat/completions`, { method: 'POST', body: '{not json' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect((await fetch(`${stub.url}/nowhere`)).status).toBe(404);
  });

  test('/metrics counts exactly what was generated, per model_name', async () => {
    const text = await metricsOf(stub);
    expect(text).toContain('# TYPE vllm:prompt_tokens_total counter');
    const served = stub.requests.filter((r) => r.finishReason !== 'abort');
    const byModel = (model: string) => served.filter((r) => r.model === model);
    for (const model of ['llama-3.1-8b-instruct', 'm', 'x']) {
      const labels = { model_name: model };
      expect(metric(text, 'vllm:prompt_tokens_total', labels)).toBe(byModel(model).reduce((s, r) => s + r.generated.promptTokens, 0));
      expect(metric(text, 'vllm:generation_tokens_total', labels)).toBe(byModel(model).reduce((s, r) => s + r.generated.completionTokens, 0));
      expect(metric(text, 'vllm:request_success_total', labels)).toBe(byModel(model).length);
    }
    expect(metric(text, 'vllm:generation_tokens_total')).toBe(stub.counters.generated.completionTokens);
    expect(stub.counters.metrics).toEqual({
      promptTokens: stub.counters.generated.promptTokens,
      generationTokens: stub.counters.generated.completionTokens,
      requestSuccess: stub.counters.served,
    });
    expect(text).toMatch(/^vllm:generation_tokens_total\{model_name="m"\} \d+\.0$/m);
  });
});

describe('stub model server, misbehaving', () => {
  let stub: StubModelServer;
  let client: OpenAI;
  const ask = (max_tokens = 20, content = 'Quote the SPOT price.') =>
    client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], max_tokens });
  beforeAll(async () => {
    stub = await startStubModelServer({ model: 'm' });
    client = clientOf(stub);
  });
  afterAll(() => stub.close());

  test('all off by default', () => {
    expect(stub.behaviour).toEqual({ inflateCompletionPct: 0, longerTokenization: false, replay: false, underReportCountersPct: 0, down: false, failRequests: false });
  });

  test('inflateCompletionPct raises completion_tokens only, rounded up', async () => {
    const honest = await ask(21);
    stub.setBehaviour({ inflateCompletionPct: 10 });
    try {
      const inflated = await ask(21);
      expect(inflated.choices[0].message.content).toBe(honest.choices[0].message.content);
      expect(inflated.usage).toEqual({ prompt_tokens: honest.usage!.prompt_tokens, completion_tokens: 24, total_tokens: honest.usage!.prompt_tokens + 24 }); // ceil(21 * 1.1) = 24
      expect(llama3.count(inflated.choices[0].message.content!)).toBe(21);
      expect(stub.requests.at(-1)!.generated.completionTokens).toBe(21);
    } finally {
      stub.setBehaviour({ inflateCompletionPct: 0 });
    }
  });

  test('longerTokenization reports a longer tokenization of the same text', async () => {
    const honest = await ask(20);
    stub.setBehaviour({ longerTokenization: true });
    try {
      const longer = await ask(20);
      const text = longer.choices[0].message.content!;
      expect(text).toBe(honest.choices[0].message.content);
      const tokens = longerTokenization(llama3, text);
      expect(llama3.decode(tokens)).toBe(text);
      expect(tokens.length).toBeGreaterThan(20);
      expect(longer.usage!.completion_tokens).toBe(tokens.length);
      expect(longer.usage!.prompt_tokens).toBe(honest.usage!.prompt_tokens);
      expect(llama3.count(text)).toBe(20);
    } finally {
      stub.setBehaviour({ longerTokenization: false });
    }
  });

  test('replay answers with the previous response id and usage', async () => {
    const first = await ask(7, 'first');
    stub.setBehaviour({ replay: true });
    try {
      const second = await ask(30, 'second');
      expect(second.id).toBe(first.id);
      expect(second.usage).toEqual(first.usage);
      expect(llama3.count(second.choices[0].message.content!)).toBe(30);
      const logged = stub.requests.at(-1)!;
      expect(logged).toMatchObject({ id: first.id, replayed: true, generated: { completionTokens: 30 } });
      expect(logged.ownId).not.toBe(first.id);
    } finally {
      stub.setBehaviour({ replay: false });
    }
    expect((await ask(7, 'third')).id).not.toBe(first.id);
  });

  test('failRequests answers 500 to completions, not to /health', async () => {
    stub.setBehaviour({ failRequests: true });
    try {
      await expect(ask()).rejects.toMatchObject({ status: 500 });
      expect((await fetch(`${stub.url}/health`)).status).toBe(200);
      expect(stub.counters.failed).toBe(1);
    } finally {
      stub.setBehaviour({ failRequests: false });
    }
    await expect(ask()).resolves.toBeDefined();
  });

  test('down answers 503 to everything, /health included', async () => {
    stub.setBehaviour({ down: true });
    try {
      await expect(ask()).rejects.toMatchObject({ status: 503 });
      await expect(client.completions.create({ model: 'm', prompt: 'p' })).rejects.toMatchObject({ status: 503 });
      expect((await fetch(`${stub.url}/health`)).status).toBe(503);
      expect((await fetch(`${stub.url}/metrics`)).status).toBe(503);
    } finally {
      stub.setBehaviour({ down: false });
    }
    expect((await fetch(`${stub.url}/health`)).status).toBe(200);
  });

  test('rejects nonsense behaviour', () => {
    expect(() => stub.setBehaviour({ underReportCountersPct: 101 })).toThrow(/underReportCountersPct/);
    expect(() => stub.setBehaviour({ inflateCompletionPct: -1 })).toThrow(/inflateCompletionPct/);
    expect(stub.behaviour.underReportCountersPct).toBe(0);
  });
});

describe('stub model server, under-reported counters', () => {
  test('/metrics grows that many percent less than the truth, and the usage stays honest', async () => {
    const stub = await startStubModelServer({ model: 'm', behaviour: { underReportCountersPct: 25 } });
    try {
      const client = clientOf(stub);
      const answers = [];
      for (const content of ['one', 'two', 'three', 'four']) {
        answers.push(await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], max_tokens: 20 }));
      }
      for (const answer of answers) expect(answer.usage!.completion_tokens).toBe(20);
      const prompt = answers.reduce((s, a) => s + a.usage!.prompt_tokens, 0);
      const text = await metricsOf(stub);
      expect(metric(text, 'vllm:generation_tokens_total', { model_name: 'm' })).toBe(60); // 80 * 75 %
      expect(metric(text, 'vllm:prompt_tokens_total', { model_name: 'm' })).toBe(Math.floor((prompt * 75) / 100));
      expect(metric(text, 'vllm:request_success_total', { model_name: 'm' })).toBe(3);
      expect(stub.counters.generated).toEqual({ promptTokens: prompt, completionTokens: 80 });

      stub.setBehaviour({ underReportCountersPct: 0 });
      await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'five' }], max_tokens: 20 });
      expect(metric(await metricsOf(stub), 'vllm:generation_tokens_total', { model_name: 'm' })).toBe(80);
    } finally {
      await stub.close();
    }
  });
});

describe('stub model server, options', () => {
  test('a tiktoken tokenizer counts with that encoding', async () => {
    const stub = await startStubModelServer({ tokenizer: 'tiktoken:cl100k_base' });
    const cl100k = (await tokenizerFor('tiktoken:cl100k_base'))!;
    try {
      const answer = await clientOf(stub).completions.create({ model: 'gpt', prompt: 'naïve café 東京 🚀', max_tokens: 33 });
      expect(answer.usage).toEqual({ prompt_tokens: 10, completion_tokens: 33, total_tokens: 43 });
      expect(cl100k.count(answer.choices[0].text)).toBe(33);
    } finally {
      await stub.close();
    }
  });

  test('the generated text lands exactly on max_tokens, and its longer tokenization decodes to it', () => {
    for (let max = 1; max <= 80; max++) {
      for (const prompt of ['', 'hello', `prompt ${max}`]) {
        const { text, completionTokens } = generateCompletion(llama3, prompt, max);
        expect({ max, count: llama3.count(text), completionTokens }).toEqual({ max, count: max, completionTokens: max });
        const longer = longerTokenization(llama3, text);
        expect(llama3.decode(longer)).toBe(text);
        expect(longer.length).toBeGreaterThan(max);
      }
    }
  });

  test('an unknown tokenizer is refused', async () => {
    await expect(startStubModelServer({ tokenizer: 'sentencepiece' })).rejects.toThrow(/unknown tokenizer "sentencepiece"/);
  });

  test('ttftMs and tokenDelayMs pace the stream', async () => {
    const stub = await startStubModelServer({ ttftMs: 150, tokenDelayMs: 20 });
    try {
      const started = Date.now();
      const stream = await clientOf(stub).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'slow' }], max_tokens: 6, stream: true });
      const arrivals: number[] = [];
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) arrivals.push(Date.now() - started);
      expect(arrivals).toHaveLength(6);
      expect(arrivals[0]).toBeGreaterThanOrEqual(140);
      expect(arrivals[5] - arrivals[0]).toBeGreaterThanOrEqual(5 * 20 - 10);
      const logged = stub.requests[0];
      expect(logged.firstTokenAt! - logged.receivedAt).toBeGreaterThanOrEqual(140);
    } finally {
      await stub.close();
    }
  });

  test('a client leaving mid-stream: tokens sent so far are counted, no success', async () => {
    const stub = await startStubModelServer({ tokenDelayMs: 25 });
    try {
      const stream = await clientOf(stub).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'long' }], max_tokens: 200, stream: true });
      let received = '';
      for await (const chunk of stream) {
        received += chunk.choices[0]?.delta.content ?? '';
        if (llama3.count(received) >= 3) break; // aborts the request
      }
      const logged = await waitFor('the aborted request', async () => stub.requests[0]);
      expect(logged.finishReason).toBe('abort');
      expect(logged.text.startsWith(received)).toBe(true);
      expect(logged.generated.completionTokens).toBe(llama3.count(logged.text));
      expect(logged.generated.completionTokens).toBeLessThan(200);
      expect(stub.counters).toMatchObject({ served: 0, aborted: 1, metrics: { requestSuccess: 0, generationTokens: logged.generated.completionTokens } });
    } finally {
      await stub.close();
    }
  });
});
