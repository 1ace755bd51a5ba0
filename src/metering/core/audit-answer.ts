/**
 * What an audit reads from a node's answer (market-rules §7): the text to re-count, the id the
 * node will report the request under, and the `usage` the node claimed, from a completion or a
 * chat completion, whole or streamed as server-sent events. Pure: no I/O.
 *
 * An answer that cannot be re-counted (not OpenAI's shape, or no text at all) is a failed audit,
 * evidence against the node like a refused one: `readAuditAnswer` throws, naming why.
 */
export type AuditEndpoint = 'completions' | 'chat';

export interface AuditAnswer {
  /** The answer's own id, when it has one. */
  readonly id: string | null;
  readonly text: string;
  /** The node's claimed counts; absent when it sent none (a stream not asked for usage). */
  readonly usage?: { readonly prompt: number; readonly completion: number };
}

export class UnrecountableAnswer extends Error {}

interface Choice {
  text?: unknown;
  message?: { content?: unknown; reasoning_content?: unknown };
  delta?: { content?: unknown; reasoning_content?: unknown };
}
interface Body {
  id?: unknown;
  choices?: unknown;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
}

export function readAuditAnswer(raw: string, endpoint: AuditEndpoint, stream: boolean): AuditAnswer {
  const bodies = stream ? events(raw) : [parse(raw)];
  let id: string | null = null;
  let text = '';
  let sawText = false;
  let usage: AuditAnswer['usage'];
  for (const body of bodies) {
    if (id === null && typeof body.id === 'string' && body.id !== '') id = body.id;
    const choices = Array.isArray(body.choices) ? (body.choices as Choice[]) : [];
    for (const choice of choices) {
      const message = stream ? choice?.delta : choice?.message;
      // A reasoning model's reasoning is generated tokens too (vLLM's `reasoning_content`).
      const pieces = endpoint === 'completions' ? [choice?.text] : [message?.reasoning_content, message?.content];
      for (const piece of pieces) {
        if (typeof piece !== 'string') continue;
        text += piece;
        sawText = true;
      }
    }
    const u = body.usage;
    if (u && Number.isSafeInteger(u.prompt_tokens) && Number.isSafeInteger(u.completion_tokens)) usage = { prompt: u.prompt_tokens as number, completion: u.completion_tokens as number };
  }
  if (!sawText || text === '') throw new UnrecountableAnswer('the answer carries no text to re-count');
  return { id, text, ...(usage ? { usage } : {}) };
}

/** The JSON bodies of an SSE stream's `data:` lines, up to `[DONE]`. */
function events(raw: string): Body[] {
  const bodies: Body[] = [];
  for (const line of raw.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice('data:'.length).trim();
    if (data === '[DONE]') break;
    if (data !== '') bodies.push(parse(data));
  }
  if (bodies.length === 0) throw new UnrecountableAnswer('the answer is not a stream of OpenAI events');
  return bodies;
}

function parse(json: string): Body {
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch {
    throw new UnrecountableAnswer('the answer is not OpenAI JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UnrecountableAnswer('the answer is not OpenAI JSON');
  return body as Body;
}
