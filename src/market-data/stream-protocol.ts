import { SYMBOL_PATTERN } from '../markets/instrument-terms.js';
import { scanInput } from '../platform/http/input-scan.js';

/**
 * The client side of `WS /v1/stream` (docs/market-data.md): JSON text messages, checked here
 * without I/O. Anything a client may get wrong becomes an error frame, never an exception.
 */
export const PUBLIC_CHANNELS = ['book', 'trades', 'ticker'] as const;
export const PRIVATE_CHANNELS = ['orders', 'fills'] as const;
export type PublicChannel = (typeof PUBLIC_CHANNELS)[number];
export type PrivateChannel = (typeof PRIVATE_CHANNELS)[number];

/** Echoed in the answer, so a client can tell which request an answer or an error is about. */
export type RequestId = string | number;

/** Order entry over the stream (docs/market-data.md): each answered, after commit, with the message's id. */
export const ORDER_OPS = ['place', 'amend', 'cancel'] as const;
export type OrderOp = (typeof ORDER_OPS)[number];

/** An order message: its fields are the REST body's (checked against the same DTOs), and `id` is required. */
export interface OrderMessage {
  readonly op: OrderOp;
  readonly id: RequestId;
  readonly fields: Record<string, unknown>;
}

export type ClientMessage =
  | { readonly op: 'auth'; readonly apiKey: string; readonly id?: RequestId }
  | { readonly op: 'subscribe' | 'unsubscribe'; readonly channel: PublicChannel; readonly instrument: string; readonly id?: RequestId }
  | { readonly op: 'subscribe' | 'unsubscribe'; readonly channel: PrivateChannel; readonly id?: RequestId }
  | OrderMessage;

export interface ErrorFrame {
  readonly op: 'error';
  readonly code: string;
  readonly message: string;
  readonly id?: RequestId;
}

export type Parsed = { readonly ok: true; readonly message: ClientMessage } | { readonly ok: false; readonly error: ErrorFrame };

export const errorFrame = (code: string, message: string, id?: RequestId): ErrorFrame => ({ op: 'error', code, message, ...(id !== undefined ? { id } : {}) });

const FIELDS: Record<string, readonly string[]> = {
  auth: ['op', 'apiKey', 'id'],
  subscribe: ['op', 'channel', 'instrument', 'id'],
  unsubscribe: ['op', 'channel', 'instrument', 'id'],
};

export function parseClientMessage(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse('INVALID_MESSAGE', 'a message must be a JSON object, e.g. {"op":"subscribe","channel":"book","instrument":"..."}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return refuse('INVALID_MESSAGE', 'a message must be a JSON object');
  const problem = scanInput(value);
  if (problem) return refuse('INVALID_MESSAGE', `${problem.path}: ${problem.reason}`);
  const m = value as Record<string, unknown>;
  const id = typeof m.id === 'string' || (typeof m.id === 'number' && Number.isSafeInteger(m.id)) ? m.id : undefined;
  if (m.id !== undefined && id === undefined) return refuse('INVALID_MESSAGE', 'id must be a string or an integer');
  const op = m.op;
  if (isOneOf(op, ORDER_OPS)) {
    if (id === undefined) return refuse('INVALID_MESSAGE', `id is required on ${op}: the answer carries it`);
    const { op: _, id: __, ...fields } = m;
    return { ok: true, message: { op, id, fields } };
  }
  if (typeof op !== 'string' || !(op in FIELDS)) return refuse('UNKNOWN_OP', `op must be one of: auth, subscribe, unsubscribe, ${ORDER_OPS.join(', ')}`, id);
  const unknown = Object.keys(m).find((k) => !FIELDS[op].includes(k));
  if (unknown !== undefined) return refuse('INVALID_MESSAGE', `${unknown}: unknown field`, id);

  if (op === 'auth') {
    if (typeof m.apiKey !== 'string' || m.apiKey.length === 0 || m.apiKey.length > 256) return refuse('INVALID_MESSAGE', 'apiKey must be an API key string', id);
    return { ok: true, message: { op, apiKey: m.apiKey, id } };
  }
  const subscription = op as 'subscribe' | 'unsubscribe';
  if (isOneOf(m.channel, PRIVATE_CHANNELS)) {
    if (m.instrument !== undefined) return refuse('INVALID_MESSAGE', `the ${m.channel} channel covers all your instruments: omit instrument`, id);
    return { ok: true, message: { op: subscription, channel: m.channel, id } };
  }
  if (!isOneOf(m.channel, PUBLIC_CHANNELS)) {
    return refuse('UNKNOWN_CHANNEL', `channel must be one of: ${[...PUBLIC_CHANNELS, ...PRIVATE_CHANNELS].join(', ')}`, id);
  }
  if (typeof m.instrument !== 'string' || !SYMBOL_PATTERN.test(m.instrument)) {
    return refuse('INVALID_MESSAGE', 'instrument must be an instrument symbol such as LLAMA-3.1-70B-INSTRUCT-SPOT', id);
  }
  return { ok: true, message: { op: subscription, channel: m.channel, instrument: m.instrument, id } };
}

function refuse(code: string, message: string, id?: RequestId): Parsed {
  return { ok: false, error: errorFrame(code, message, id) };
}

function isOneOf<T extends string>(value: unknown, options: readonly T[]): value is T {
  return typeof value === 'string' && (options as readonly string[]).includes(value);
}
