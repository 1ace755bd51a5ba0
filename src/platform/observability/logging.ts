import type { LoggerService } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pino, type Logger as PinoLogger } from 'pino';
import type { AppConfig } from '../config/app-config.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * The request id: the client's X-Request-Id when it sent a sane one, else a new UUID. Fastify logs
 * it on every request line (`reqId`), the error filter returns it as `correlationId`, and the
 * response echoes it in X-Request-Id.
 */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * Errors as pino logs them, less what may carry secrets: a failed statement's bound parameters
 * (TypeORM's QueryFailedError keeps them: an API key's hash, a signing key) are dropped, only
 * their count kept, and PostgreSQL's `detail` loses the values it quotes
 * (`Key (key_hash)=(\x...) already exists`). The SQL text stays: it holds placeholders, not values.
 */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return scrubbed(pino.stdSerializers.err(error) as unknown as Record<string, unknown>, 0);
}

function scrubbed(fields: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { ...fields };
  if ('parameters' in out) {
    out.parameterCount = Array.isArray(out.parameters) ? out.parameters.length : undefined;
    delete out.parameters;
  }
  if (typeof out.detail === 'string') out.detail = out.detail.replace(/=\((.*)\)/s, '=([redacted])');
  for (const nested of ['driverError', 'cause']) {
    const value = out[nested];
    if (value !== null && typeof value === 'object' && depth < 3) out[nested] = scrubbed({ ...(value as Record<string, unknown>) }, depth + 1);
  }
  return out;
}

/** The process's one pino logger: JSON lines, secrets redacted, the role on every line. */
export function createRootLogger(config: AppConfig): PinoLogger {
  return pino({
    level: config.log.level,
    base: { role: config.role, pid: process.pid },
    serializers: { err: serializeError },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.apiKey', '*.key'], censor: '[redacted]' },
    transport: config.log.pretty ? { target: 'pino-pretty', options: { singleLine: true } } : undefined,
  });
}

/**
 * Nest's logger interface on top of pino. `logger.log({ any: 'fields' }, 'message')` from a
 * `new Logger(Context)` becomes one JSON line with the fields, the message and the context.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly root: PinoLogger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /** Nest passes (message, ...params, context); with an object first, the next string is the message. */
  private write(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal', message: unknown, rest: unknown[]): void {
    const params = [...rest];
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      const text = typeof params[0] === 'string' ? (params.shift() as string) : undefined;
      this.root[level]({ context, ...(message as object) }, text);
    } else if (message instanceof Error) {
      this.root[level]({ context, err: message }, message.message);
    } else {
      // Nest's own error logs pass a stack trace as the second argument.
      const stack = level === 'error' && typeof params[0] === 'string' ? params.shift() : undefined;
      this.root[level]({ context, ...(stack ? { stack } : {}) }, String(message));
    }
  }
}
