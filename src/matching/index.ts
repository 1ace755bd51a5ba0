// The matching engine's public surface: pure TypeScript, no framework, no I/O, no clock.
export type * from './commands.js';
export type * from './events.js';
export type { OrderBook, OrderBookFactory } from './order-book.js';
export type { OrderFields } from './order-fields.js';
export { RejectCode } from './reject-codes.js';
export { collarLimit } from './rules.js';
export * from './types.js';
export { type BookPosition, type BookRestoring, FastOrderBook } from './fast/fast-order-book.js';
export { ReferenceOrderBook } from './reference/reference-order-book.js';
