import { createHash } from 'node:crypto';

/**
 * What the agent reads from an OpenAI-compatible answer, defensively (the upstream is the
 * provider's, and a count tokex would refuse must not be reported): the request id, the model,
 * the usage, whether a chunk carries output, and the output text for the record's hash.
 */

// UsageRecord limits (usage-batch.ts): anything outside them is not a usable count or id.
const MAX_REQUEST_ID_LENGTH = 128;
const MAX_MODEL_LENGTH = 200;
const MAX_TOKEN_COUNT = 10_000_000;

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function requestIdOf(id: unknown): string | null {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_REQUEST_ID_LENGTH ? id : null;
}

export function modelOf(model: unknown): string | null {
  return typeof model === 'string' ? model.slice(0, MAX_MODEL_LENGTH) : null;
}

export function usageOf(usage: unknown): Usage | null {
  if (!isObject(usage)) return null;
  const count = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TOKEN_COUNT ? (v as number) : null);
  const promptTokens = count(usage.prompt_tokens);
  const completionTokens = count(usage.completion_tokens);
  return promptTokens === null || completionTokens === null ? null : { promptTokens, completionTokens };
}

/** A choice of a chunk that carries generated output (not just the role, not empty). */
export function hasContent(choice: unknown): boolean {
  if (!isObject(choice)) return false;
  if (typeof choice.text === 'string' && choice.text !== '') return true; // /v1/completions
  const delta = choice.delta;
  if (!isObject(delta)) return false;
  const nonEmpty = (v: unknown) => typeof v === 'string' && v !== '';
  return nonEmpty(delta.content) || nonEmpty(delta.reasoning_content) || nonEmpty(delta.reasoning) || (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0);
}

/**
 * The output text the buyer received, for the record's `outputSha256`: per choice (by `index`),
 * the concatenated `content` of a chat answer's message or of its stream's deltas, or a
 * completion's `text`; choices in index order. A streamed and a whole answer with the same text
 * hash the same, and so does what a buyer computes from what its client returned.
 */
export class OutputText {
  private readonly choices = new Map<number, string[]>();

  /** Adds the text of `choices` (a body's or a chunk's), read from `message` or `delta`. */
  add(choices: unknown, part: 'message' | 'delta'): void {
    if (!Array.isArray(choices)) return;
    choices.forEach((choice: unknown, position) => {
      if (!isObject(choice)) return;
      const holder = choice[part];
      const text = typeof choice.text === 'string' ? choice.text : isObject(holder) && typeof holder.content === 'string' ? holder.content : '';
      if (text === '') return;
      const index = Number.isSafeInteger(choice.index) && (choice.index as number) >= 0 ? (choice.index as number) : position;
      const pieces = this.choices.get(index);
      if (pieces) pieces.push(text);
      else this.choices.set(index, [text]);
    });
  }

  /** Hex SHA-256 of the UTF-8 text (of the empty text when there was none). */
  sha256(): string {
    const hash = createHash('sha256');
    for (const index of [...this.choices.keys()].sort((a, b) => a - b)) for (const piece of this.choices.get(index)!) hash.update(piece, 'utf8');
    return hash.digest('hex');
  }
}

