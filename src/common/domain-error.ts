/**
 * Errors raised by domain code carry a machine code and a kind; they know nothing about HTTP.
 * The global exception filter (src/platform/http/exception.filter.ts) maps the kind to a status code, so
 * workers and services can share the same errors without importing the web framework.
 */
export type ErrorKind =
  | 'invalid' // the request is malformed or names an impossible value (400)
  | 'unauthenticated' // no valid credential (401)
  | 'forbidden' // a valid credential without the right to do this (403)
  | 'not_found' // absent, or belongs to someone else (404)
  | 'conflict' // clashes with what already exists (409)
  | 'unprocessable' // well-formed but refused by a business rule, e.g. insufficient funds (422)
  | 'rate_limited' // too many requests for this key (429)
  | 'unavailable'; // temporarily unable to serve; retry (503)

export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: ErrorKind,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, message, 'invalid', details);
export const notFound = (code: string, message: string) => new DomainError(code, message, 'not_found');
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, message, 'conflict', details);
export const unprocessable = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, message, 'unprocessable', details);
export const forbidden = (code: string, message: string) => new DomainError(code, message, 'forbidden');
