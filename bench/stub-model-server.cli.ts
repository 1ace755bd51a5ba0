/**
 * The stub model server (src/demo/stub-model-server.ts) as a process, for demos and manual
 * runs: an OpenAI-compatible "inference node" with deterministic answers and vLLM's /metrics.
 * Here in bench/ because bench/ is what `npm run build` compiles besides src/.
 *
 *   npm run build && node dist/bench/stub-model-server.cli.js --port 8000 --tokenizer llama3
 *
 * Options: --port N (default 8000), --host H (127.0.0.1), --tokenizer NAME (llama3, or
 * tiktoken:<encoding>), --model ID (stub-model), --ttft-ms N, --token-delay-ms N, and the
 * misbehaviours: --inflate-completion-pct N, --longer-tokenization, --replay,
 * --under-report-counters-pct N, --down, --fail-requests.
 */
import { parseArgs } from 'node:util';
import { startStubModelServer } from '../src/demo/stub-model-server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    tokenizer: { type: 'string', default: 'llama3' },
    model: { type: 'string', default: 'stub-model' },
    'ttft-ms': { type: 'string', default: '0' },
    'token-delay-ms': { type: 'string', default: '0' },
    'inflate-completion-pct': { type: 'string', default: '0' },
    'longer-tokenization': { type: 'boolean', default: false },
    replay: { type: 'boolean', default: false },
    'under-report-counters-pct': { type: 'string', default: '0' },
    down: { type: 'boolean', default: false },
    'fail-requests': { type: 'boolean', default: false },
  },
});

function whole(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name} must be a whole number >= 0, not "${text}"`);
    process.exit(2);
  }
  return value;
}

const stub = await startStubModelServer({
  port: whole('port', values.port),
  host: values.host,
  tokenizer: values.tokenizer,
  model: values.model,
  ttftMs: whole('ttft-ms', values['ttft-ms']),
  tokenDelayMs: whole('token-delay-ms', values['token-delay-ms']),
  behaviour: {
    inflateCompletionPct: whole('inflate-completion-pct', values['inflate-completion-pct']),
    longerTokenization: values['longer-tokenization'],
    replay: values.replay,
    underReportCountersPct: whole('under-report-counters-pct', values['under-report-counters-pct']),
    down: values.down,
    failRequests: values['fail-requests'],
  },
});
console.log(`stub model server "${values.model}" (tokenizer ${stub.tokenizer.name}) listening on ${stub.url}; OpenAI base URL ${stub.baseUrl}`);
console.log(`behaviour: ${JSON.stringify(stub.behaviour)}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const { served, generated } = stub.counters;
    console.log(`${signal}: stopping after ${served} requests (${generated.promptTokens} prompt, ${generated.completionTokens} completion tokens)`);
    void stub.close().then(() => process.exit(0));
  });
}
