import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { SUPPORTED_TOKENIZERS, SUPPORTED_TOKENIZERS_DESCRIPTION, tokenizerFor, type Tokenizer } from './tokenizers.js';

// Every supported tokenizer, loaded once for the tests below (tokenizerFor imports its library on first use).
const loaded = new Map(await Promise.all(SUPPORTED_TOKENIZERS.map(async (name) => [name, await tokenizerFor(name)] as const)));

function must(name: string): Tokenizer {
  const tokenizer = loaded.get(name);
  if (!tokenizer) throw new Error(`no tokenizer ${name}`);
  return tokenizer;
}

// Pinned once from the libraries (llama3-tokenizer-js 1.2.0, js-tiktoken 1.0.21). A change here
// changes what every delivered token is worth, so a library upgrade must not move them silently.
const PINNED: Record<string, Record<string, number>> = {
  llama3: {
    '': 0,
    'Hello, world!': 4,
    'The quick brown fox jumps over the lazy dog.': 10,
    'tokex: AI inference capacity, traded as tokens.': 11,
    'naïve café 東京 🚀': 8,
    '  indented\n\tcode();': 6,
  },
  'tiktoken:cl100k_base': {
    '': 0,
    'Hello, world!': 4,
    'The quick brown fox jumps over the lazy dog.': 10,
    'tokex: AI inference capacity, traded as tokens.': 11,
    'naïve café 東京 🚀': 10,
    '  indented\n\tcode();': 6,
  },
  'tiktoken:o200k_base': {
    '': 0,
    'Hello, world!': 4,
    'The quick brown fox jumps over the lazy dog.': 10,
    'tokex: AI inference capacity, traded as tokens.': 11,
    'naïve café 東京 🚀': 7,
    '  indented\n\tcode();': 6,
  },
  'tiktoken:gpt2': {
    'tokex: AI inference capacity, traded as tokens.': 12,
    'naïve café 東京 🚀': 11,
    '  indented\n\tcode();': 7,
  },
};

describe('tokenizerFor', () => {
  test.each(Object.entries(PINNED))('%s counts pinned strings', (name, counts) => {
    const tokenizer = must(name);
    expect(tokenizer.name).toBe(name);
    for (const [text, count] of Object.entries(counts)) {
      expect({ text, count: tokenizer.count(text) }).toEqual({ text, count });
      expect(tokenizer.encode(text)).toHaveLength(count);
    }
  });

  test('pinned token ids', () => {
    expect(must('llama3').encode('Hello, world!')).toEqual([9906, 11, 1917, 0]);
    expect(must('tiktoken:cl100k_base').encode('Hello, world!')).toEqual([9906, 11, 1917, 0]);
    expect(must('tiktoken:o200k_base').encode('Hello, world!')).toEqual([13225, 11, 2375, 0]);
  });

  test('adds no begin- or end-of-text token', () => {
    expect(must('llama3').encode('hello world')).toEqual([15339, 1917]);
  });

  test('text spelling a special token counts as that one token, and does not throw', () => {
    expect(must('llama3').encode('hello <|eot_id|> world')).toEqual([15339, 220, 128009, 1917]);
    const cl100k = must('tiktoken:cl100k_base');
    expect(cl100k.encode('a<|endoftext|>')).toEqual([64, 100257]);
    expect(cl100k.decode(cl100k.encode('a<|endoftext|>'))).toBe('a<|endoftext|>');
  });

  test('unknown names are undefined', async () => {
    for (const name of ['', 'llama2', 'LLAMA3', 'llama3 ', 'tiktoken:', 'tiktoken:o200k', 'tiktoken:foo', 'cl100k_base', 'tiktoken:cl100k_base:x', 'hf:meta-llama/Llama-3.1-8B']) {
      expect(await tokenizerFor(name)).toBeUndefined();
    }
  });

  test('every supported name resolves, and is cached', async () => {
    for (const name of SUPPORTED_TOKENIZERS) {
      const tokenizer = must(name);
      expect(await tokenizerFor(name)).toBe(tokenizer);
      expect(tokenizer.count('hello world')).toBeGreaterThan(0);
      expect(SUPPORTED_TOKENIZERS_DESCRIPTION).toContain(`"${name}"`);
    }
    expect(SUPPORTED_TOKENIZERS).toEqual(expect.arrayContaining(['llama3', 'tiktoken:cl100k_base', 'tiktoken:o200k_base']));
  });
});

describe('encode/decode round trip', () => {
  test.each(['tiktoken:cl100k_base', 'tiktoken:o200k_base'])('%s on ASCII strings', (name) => {
    const tokenizer = must(name);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 200 }), (text) => {
        const tokens = tokenizer.encode(text);
        expect(tokenizer.decode(tokens)).toBe(text);
        expect(tokenizer.count(text)).toBe(tokens.length);
        expect(tokens.length).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 300 },
    );
  });

  test('llama3 on Unicode strings', () => {
    const tokenizer = must('llama3');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (text) => {
        const tokens = tokenizer.encode(text);
        expect(tokenizer.decode(tokens)).toBe(text);
        expect(tokenizer.count(text)).toBe(tokens.length);
      }),
      { numRuns: 300 },
    );
  });
});
