import { describe, expect, test } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { serializeError } from './logging.js';

describe('serializeError', () => {
  test("a failed statement's parameters and the values PostgreSQL quotes are not logged", () => {
    const secret = Buffer.from('a0b1c2d3e4f5', 'hex');
    const driverError = Object.assign(new Error('duplicate key value violates unique constraint "api_keys_hash_key"'), {
      code: '23505',
      detail: 'Key (key_hash)=(\\xa0b1c2d3e4f5) already exists.',
      parameters: ['x', secret],
    });
    const error = new QueryFailedError('INSERT INTO api_keys (participant_id, key_hash) VALUES ($1, $2)', ['p-1', secret], driverError);
    const logged = serializeError(error) as Record<string, any>;
    const text = JSON.stringify(logged);
    expect(text).not.toContain('a0b1c2d3e4f5');
    expect(text).not.toContain('"parameters"');
    expect(logged).toMatchObject({
      type: 'QueryFailedError',
      message: 'duplicate key value violates unique constraint "api_keys_hash_key"',
      query: 'INSERT INTO api_keys (participant_id, key_hash) VALUES ($1, $2)',
      parameterCount: 2,
      detail: 'Key (key_hash)=([redacted]) already exists.',
      driverError: { code: '23505', detail: 'Key (key_hash)=([redacted]) already exists.' },
    });
  });

  test('other errors and non-errors pass as pino would log them', () => {
    expect(serializeError('text')).toBe('text');
    expect(serializeError(new Error('boom'))).toMatchObject({ type: 'Error', message: 'boom', stack: expect.any(String) });
  });
});
