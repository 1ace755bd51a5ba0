import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { readAuditAnswer } from './audit-answer.js';

const sse = (chunks: unknown[]) => chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n';

describe('readAuditAnswer', () => {
  test('a completion and a chat completion, whole', () => {
    const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
    expect(readAuditAnswer(JSON.stringify({ id: 'cmpl-1', choices: [{ text: 'Hello there' }], usage }), 'completions', false)).toEqual({
      id: 'cmpl-1',
      text: 'Hello there',
      usage: { prompt: 12, completion: 5 },
    });
    expect(readAuditAnswer(JSON.stringify({ id: 'chatcmpl-1', choices: [{ message: { role: 'assistant', content: 'Hi' } }], usage }), 'chat', false)).toEqual({
      id: 'chatcmpl-1',
      text: 'Hi',
      usage: { prompt: 12, completion: 5 },
    });
  });

  test('streamed: the deltas joined, the first id, usage only when the stream sent it', () => {
    const chunks = [
      { id: 'chatcmpl-9', choices: [{ delta: { role: 'assistant' } }] },
      { id: 'chatcmpl-9', choices: [{ delta: { content: 'Hel' } }] },
      { id: 'chatcmpl-9', choices: [{ delta: { content: 'lo' }, finish_reason: 'length' }] },
    ];
    expect(readAuditAnswer(sse(chunks), 'chat', true)).toEqual({ id: 'chatcmpl-9', text: 'Hello' });
    const withUsage = [...chunks, { id: 'chatcmpl-9', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } }];
    expect(readAuditAnswer(sse(withUsage), 'chat', true).usage).toEqual({ prompt: 3, completion: 2 });
    expect(readAuditAnswer(sse([{ id: 'cmpl-2', choices: [{ text: 'a' }] }, { id: 'cmpl-2', choices: [{ text: 'b' }] }]), 'completions', true).text).toBe('ab');
    // a reasoning model's reasoning counts as generated text
    expect(readAuditAnswer(sse([{ id: 'r', choices: [{ delta: { reasoning_content: 'Think. ' } }] }, { id: 'r', choices: [{ delta: { content: 'Answer.' } }] }]), 'chat', true).text).toBe('Think. Answer.');
  });

  test('an answer that cannot be re-counted is a failed audit, naming why', () => {
    expect(() => readAuditAnswer('<html>busy</html>', 'completions', false)).toThrow('the answer is not OpenAI JSON');
    expect(() => readAuditAnswer(JSON.stringify({ id: 'x', choices: [] }), 'completions', false)).toThrow('no text to re-count');
    expect(() => readAuditAnswer(JSON.stringify({ choices: [{ text: '' }] }), 'completions', false)).toThrow('no text to re-count');
    // the other endpoint's shape carries no text for this one
    expect(() => readAuditAnswer(JSON.stringify({ choices: [{ text: 'hi' }] }), 'chat', false)).toThrow('no text to re-count');
    expect(() => readAuditAnswer('event: ping\n\n', 'chat', true)).toThrow('not a stream of OpenAI events');
    expect(() => readAuditAnswer('data: {oops\n\n', 'chat', true)).toThrow('not OpenAI JSON');
  });

  test('never throws anything but its own error, whatever the node sends', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('completions' as const, 'chat' as const), fc.boolean(), (raw, endpoint, stream) => {
        try {
          readAuditAnswer(raw, endpoint, stream);
        } catch (error) {
          expect((error as Error).constructor.name).toBe('UnrecountableAnswer');
        }
      }),
    );
  });
});
