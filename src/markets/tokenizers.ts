import { getEncoding, type Tiktoken, type TiktokenEncoding } from 'js-tiktoken';
import llama3Tokenizer from 'llama3-tokenizer-js';

/**
 * The tokenizers that count a model class's tokens (market-rules §1: a token is one token "as
 * counted by the model's own tokenizer"). The exchange re-counts text with these when it audits a
 * node (§7), so a model class may only name one of them: `POST /v1/admin/model-classes` refuses any
 * other (an unknown name would leave its nodes' audits without a re-count). They live in markets,
 * with the model class that names them; metering and the demo's stub server import them from here.
 * Pure: no Nest, no I/O.
 *
 * Names, as a model class stores them in `tokenizer`:
 * - `llama3`: the Llama 3 / 3.1 / 3.2 / 3.3 tokenizer (llama3-tokenizer-js);
 * - `tiktoken:<encoding>`: an OpenAI BPE encoding from js-tiktoken, e.g. `tiktoken:o200k_base`.
 *
 * Counts are of the text alone: no begin/end-of-text tokens and no chat template are added.
 * Text that spells a special token (`<|eot_id|>`, `<|endoftext|>`) counts as that one special
 * token, as Hugging Face tokenizers and vLLM do by default; nothing throws on it.
 */
export interface Tokenizer {
  /** The name it was looked up by, e.g. `tiktoken:cl100k_base`. */
  readonly name: string;
  count(text: string): number;
  encode(text: string): number[];
  decode(tokens: number[]): string;
}

const TIKTOKEN_ENCODINGS = ['cl100k_base', 'o200k_base', 'p50k_base', 'p50k_edit', 'r50k_base', 'gpt2'] as const satisfies readonly TiktokenEncoding[];

/** Every name `tokenizerFor` accepts, for documentation and validation messages. */
export const SUPPORTED_TOKENIZERS: readonly string[] = Object.freeze(['llama3', ...TIKTOKEN_ENCODINGS.map((encoding) => `tiktoken:${encoding}`)]);

/** One sentence naming the supported tokenizers, for API docs and error messages. */
export const SUPPORTED_TOKENIZERS_DESCRIPTION = `one of ${SUPPORTED_TOKENIZERS.map((name) => `"${name}"`).join(', ')}`;

// Built on first use and kept: a tiktoken encoding parses its whole rank table (100-200k entries)
// when constructed, which takes hundreds of milliseconds.
const cache = new Map<string, Tokenizer>();

/** The tokenizer called `name`, or undefined when that name is not supported. */
export function tokenizerFor(name: string): Tokenizer | undefined {
  const cached = cache.get(name);
  if (cached) return cached;
  const built = build(name);
  if (built) cache.set(name, built);
  return built;
}

function build(name: string): Tokenizer | undefined {
  if (name === 'llama3') return llama3(name);
  const encoding = name.startsWith('tiktoken:') ? name.slice('tiktoken:'.length) : undefined;
  if (encoding !== undefined && (TIKTOKEN_ENCODINGS as readonly string[]).includes(encoding)) {
    return tiktoken(name, getEncoding(encoding as TiktokenEncoding));
  }
  return undefined;
}

function llama3(name: string): Tokenizer {
  // The library's instance is built once, when its module loads.
  const encode = (text: string): number[] => llama3Tokenizer.encode(text, { bos: false, eos: false });
  return Object.freeze({
    name,
    encode,
    count: (text: string) => encode(text).length,
    decode: (tokens: number[]) => llama3Tokenizer.decode(tokens),
  });
}

function tiktoken(name: string, encoding: Tiktoken): Tokenizer {
  // 'all': a special token's text is that special token (js-tiktoken would otherwise throw on it).
  const encode = (text: string): number[] => encoding.encode(text, 'all');
  return Object.freeze({
    name,
    encode,
    count: (text: string) => encode(text).length,
    decode: (tokens: number[]) => encoding.decode(tokens),
  });
}
