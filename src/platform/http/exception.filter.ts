import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { DomainError, type ErrorKind } from '../../common/domain-error.js';

const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
};

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
  correlationId?: string;
  details?: Record<string, unknown>;
}

/**
 * The one place errors become HTTP: domain codes map to a status by their kind; framework and
 * parser errors keep their 4xx; anything else is a 500 that is logged with the request id, which
 * the client also receives as `correlationId` to quote.
 */
@Catch()
export class GlobalExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const body = toErrorBody(exception, request?.id);
    if (body.statusCode >= 500) {
      this.logger.error({ err: exception, correlationId: request?.id, route: request?.routeOptions?.url }, 'unhandled error');
    }
    if (body.details?.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(body.details.retryAfterSeconds));
    }
    void reply.status(body.statusCode).send(body);
  }
}

export function toErrorBody(exception: unknown, correlationId?: string): ErrorBody {
  if (exception instanceof DomainError) {
    const statusCode = STATUS_OF_KIND[exception.kind];
    return { statusCode, error: STATUS_CODES[statusCode]!, message: exception.message, code: exception.code, ...(exception.details ? { details: exception.details } : {}) };
  }
  if (exception instanceof HttpException) {
    const statusCode = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : Array.isArray((response as { message?: unknown }).message)
          ? ((response as { message: string[] }).message).join('; ')
          : String((response as { message?: unknown }).message ?? exception.message);
    // Fastify's body parser errors (bad JSON, wrong content type) arrive wrapped, with the original as cause.
    const parserError = (exception.cause as { code?: unknown } | undefined)?.code;
    const code = typeof parserError === 'string' && parserError.startsWith('FST_ERR_CTP') ? 'INVALID_BODY' : codeOf(statusCode);
    if (statusCode < 500) return { statusCode, error: STATUS_CODES[statusCode]!, message, code };
  }
  return {
    statusCode: 500,
    error: STATUS_CODES[500]!,
    message: `internal error; quote correlation id ${correlationId ?? 'unknown'} to support`,
    code: 'INTERNAL',
    correlationId,
  };
}

function codeOf(status: number): string {
  return (STATUS_CODES[status] ?? 'ERROR').toUpperCase().replace(/[^A-Z]+/g, '_');
}
