// The forwards' pure core (market-rules §6): no framework, database, I/O, clock or randomness.
export * from './positions.js';
export * from './margin.js';
export * from './mark-price.js';
export * from './variation-margin.js';
export * from './waterfall.js';
export * from './allocation.js';
export * from './capacity.js';
