/** vLLM's token counters (what tokex scrapes, api.md "Node metrics") and the other servers' names for them. */
const TOKEN_COUNTER_ALIASES: ReadonlyArray<{ readonly name: string; readonly help: string; readonly from: readonly string[] }> = [
  {
    name: 'vllm:prompt_tokens_total',
    help: 'Prompt tokens processed',
    from: ['tgi_request_input_length_sum', 'llamacpp:prompt_tokens_total'],
  },
  {
    name: 'vllm:generation_tokens_total',
    help: 'Generation tokens processed',
    from: ['tgi_request_generated_tokens_sum', 'llamacpp:tokens_predicted_total'],
  },
];
// name, {labels} (quoted values may hold braces), value, optional timestamp.
const SAMPLE_LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/;

/**
 * Prometheus text with vLLM's two token counters added, copied from TGI's (the `_sum` of its
 * input-length and generated-tokens histograms) or llama.cpp's counters, each sample labelled
 * `model_name` (the node's model class) unless it already is. The upstream's own lines are kept
 * as they are; a counter the upstream already has under vLLM's name (vLLM itself) is not added.
 */
export function withVllmTokenCounters(text: string, modelName: string): string {
  const samples: Array<{ name: string; labels: string; value: string; timestamp: string | undefined }> = [];
  for (const line of text.split(/\r?\n/)) {
    const match = SAMPLE_LINE.exec(line.trim());
    if (match) samples.push({ name: match[1]!, labels: match[2] ?? '', value: match[3]!, timestamp: match[4] });
  }
  const present = new Set(samples.map((s) => s.name));
  const added: string[] = [];
  for (const alias of TOKEN_COUNTER_ALIASES) {
    if (present.has(alias.name)) continue;
    const source = alias.from.find((name) => present.has(name));
    if (source === undefined) continue;
    added.push(`# HELP ${alias.name} ${alias.help} (the tokex node agent's copy of ${source})`, `# TYPE ${alias.name} counter`);
    for (const sample of samples.filter((s) => s.name === source)) {
      added.push(`${alias.name}${withModelName(sample.labels, modelName)} ${sample.value}${sample.timestamp === undefined ? '' : ` ${sample.timestamp}`}`);
    }
  }
  if (added.length === 0) return text;
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  // OpenMetrics ends with "# EOF": what is added goes before it.
  const eof = lines.at(-1)?.trim() === '# EOF' ? lines.pop() : undefined;
  return `${[...lines, ...added, ...(eof === undefined ? [] : [eof])].join('\n')}\n`;
}

function withModelName(labels: string, modelName: string): string {
  if (/(^\{|,)\s*model_name\s*=/.test(labels)) return labels;
  const label = `model_name="${modelName.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  const inner = labels.slice(1, -1).trim();
  return inner === '' ? `{${label}}` : `{${label},${inner}}`;
}

