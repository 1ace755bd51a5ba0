// The ledger's pure core: no framework, database or I/O imports. See docs/ledger.md.
export * from './types.js';
export * from './apply-transfers.js';
export * from './balances.js';
export * from './in-memory-ledger.js';
export * from './transfer-flags.js';
