import type { Tiktoken, TiktokenEncoding } from 'js-tiktoken';

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

// Each library is imported on first use, and each tokenizer built once and kept: importing them
// took about a second of every process's start (the Llama 3 library builds its tables as its
// module loads; js-tiktoken's module holds every rank table as text), and a tiktoken encoding
// parses its table (100-200k entries) when constructed. Most processes never audit.
const cache = new Map<string, Promise<Tokenizer>>();

/** The tokenizer called `name`, or undefined when that name is not supported. */
export function tokenizerFor(name: string): Promise<Tokenizer | undefined> {
  if (!SUPPORTED_TOKENIZERS.includes(name)) return Promise.resolve(undefined);
  let built = cache.get(name);
  if (built === undefined) {
    built = build(name);
    cache.set(name, built);
    built.catch(() => cache.delete(name)); // a failed import may be retried
  }
  return built;
}

async function build(name: string): Promise<Tokenizer> {
  if (name === 'llama3') return llama3(name);
  const encoding = name.slice('tiktoken:'.length) as TiktokenEncoding;
  const { getEncoding } = await import('js-tiktoken');
  return tiktoken(name, getEncoding(encoding));
}

async function llama3(name: string): Promise<Tokenizer> {
  const { default: llama3Tokenizer } = await import('llama3-tokenizer-js');
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
