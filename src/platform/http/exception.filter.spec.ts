import { describe, expect, test } from '@jest/globals';
import { BadRequestException, HttpException } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { toErrorBody } from './exception.filter.js';

describe('error bodies', () => {
  test('domain errors keep their code and map their kind to a status', () => {
    expect(toErrorBody(new DomainError('INSUFFICIENT_FUNDS', 'too low', 'unprocessable'))).toEqual({
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: 'too low',
      code: 'INSUFFICIENT_FUNDS',
    });
    expect(toErrorBody(new DomainError('X', 'gone', 'not_found')).statusCode).toBe(404);
    expect(toErrorBody(new DomainError('X', 'slow down', 'rate_limited', { retryAfterSeconds: 1 }))).toMatchObject({
      statusCode: 429,
      details: { retryAfterSeconds: 1 },
    });
  });

  test('framework 4xx errors keep their status', () => {
    expect(toErrorBody(new BadRequestException('nope'))).toMatchObject({ statusCode: 400, code: 'BAD_REQUEST', message: 'nope' });
    const parser = new HttpException('Body is not valid JSON', 400, { cause: Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY' }) });
    expect(toErrorBody(parser)).toMatchObject({ statusCode: 400, code: 'INVALID_BODY' });
  });

  test('anything else is a 500 that names only the correlation id, never the internals', () => {
    const body = toErrorBody(new Error('relation "secret_table" does not exist'), 'req-42');
    expect(body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'internal error; quote correlation id req-42 to support',
      code: 'INTERNAL',
      correlationId: 'req-42',
    });
    expect(toErrorBody(new HttpException('boom', 502), 'r').statusCode).toBe(500);
  });
});
