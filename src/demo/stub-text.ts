import { prng } from '../common/prng.js';
import type { Tokenizer } from '../markets/tokenizers.js';

/**
 * The stub model server's text (src/demo/stub-model-server.ts): its deterministic completions, the
 * longer tokenization a dishonest server may claim, and the prompt-token rule for chat. Pure.
 */

/** Ordinary ASCII words; each is one token (with its leading space) in the supported tokenizers. */
const WORDS = [
  'market', 'token', 'price', 'order', 'trade', 'model', 'value', 'offer', 'buyer', 'seller',
  'capacity', 'delivery', 'window', 'server', 'node', 'request', 'answer', 'signal', 'ledger', 'account',
  'balance', 'period', 'future', 'spot', 'book', 'level', 'quote', 'depth', 'volume', 'index',
  'river', 'stone', 'light', 'cloud', 'green', 'quiet', 'north', 'south', 'water', 'field',
  'bright', 'steady', 'simple', 'open', 'clear', 'fast', 'small', 'large', 'early', 'later',
  'runs', 'holds', 'moves', 'keeps', 'shows', 'meets', 'finds', 'turns', 'sends', 'reads',
  'with', 'from', 'over', 'under',
];
/** One token each in every supported tokenizer: used to land exactly on max_tokens. */
const FILLERS = [' a', ' the', ' and', ' of', ' to', ' in'];

/** FNV-1a over UTF-16 code units: a small, stable seed from a string. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}


/**
 * The stub's completion of `prompt`: a function of the prompt text and `maxTokens` only.
 * `completionTokens` is `tokenizer.count(text)`, equal to `maxTokens` for every supported
 * tokenizer; it could only fall short if a tokenizer merged tokens across word boundaries.
 */
export function generateCompletion(tokenizer: Tokenizer, prompt: string, maxTokens: number): { text: string; completionTokens: number } {
  const random = prng(fnv1a(`${maxTokens}\u0000${prompt}`));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const pieces: string[] = [];
  let sum = 0;
  while (sum < maxTokens) {
    const word = pick(WORDS);
    let piece = pieces.length === 0 ? word[0].toUpperCase() + word.slice(1) : ` ${word}`;
    let tokens = tokenizer.count(piece);
    if (tokens > maxTokens - sum) {
      piece = pieces.length === 0 ? 'A' : pick(FILLERS);
      tokens = tokenizer.count(piece);
      if (tokens > maxTokens - sum) break;
    }
    pieces.push(piece);
    sum += tokens;
  }
  // Each piece starts where the tokenizers' pre-tokenizers split (before " word"), so the sum of
  // the pieces' counts is the whole text's count. Checked rather than trusted:
  let text = pieces.join('');
  let completionTokens = tokenizer.count(text);
  while (completionTokens > maxTokens && pieces.length > 0) {
    pieces.pop();
    text = pieces.join('');
    completionTokens = tokenizer.count(text);
  }
  return { text, completionTokens };
}

/**
 * A longer tokenization of `text` that decodes to the same text: every canonical token whose text
 * has two or more characters is split into its first character and the rest, each encoded on its
 * own. (Tokens that decode to a partial UTF-8 sequence are kept whole.) A dishonest server can
 * claim to have generated this sequence; only re-counting with the canonical encoding shows it.
 */
export function longerTokenization(tokenizer: Tokenizer, text: string): number[] {
  const out: number[] = [];
  for (const token of tokenizer.encode(text)) {
    const piece = tokenizer.decode([token]);
    const first = Array.from(piece)[0] ?? '';
    if (piece.length <= first.length || piece.includes('\uFFFD')) {
      out.push(token);
      continue;
    }
    out.push(...tokenizer.encode(first), ...tokenizer.encode(piece.slice(first.length)));
  }
  return out;
}

type ContentPart = { type?: unknown; text?: unknown };

/** The text of a chat message's content: a string, or the `text` of its `text` parts, in order. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .filter((part: ContentPart) => part?.type === 'text' && typeof part.text === 'string')
      .map((part: ContentPart) => part.text as string)
      .join('');
  }
  return '';
}

/** The prompt-token rule for chat: message contents in order, joined with "\n". */
export function chatPromptText(messages: readonly { content?: unknown }[]): string {
  return messages.map((message) => contentText(message?.content)).join('\n');
}


/** The streamed pieces of `text`: one per token, or one per word if single tokens do not decode cleanly. */
export function tokenPieces(tokenizer: Tokenizer, text: string): string[] {
  const pieces = tokenizer.encode(text).map((token) => tokenizer.decode([token]));
  return pieces.join('') === text ? pieces : (text.match(/\s*\S+/g) ?? []);
}
