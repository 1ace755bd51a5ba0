// The forwards' pure core (market-rules §6): no framework, database, I/O, clock or randomness.
export * from './positions.js';
export * from './margin.js';
export * from './mark-price.js';
export * from './variation-margin.js';
export * from './waterfall.js';
export * from './allocation.js';
export * from './capacity.js';
export * from './forward-book.js';
export * from './forward-keeper.js';
export * from './forward-rules.js';
export * from './forward-commands.js';
export * from './sell-capacity.js';
export * from './daily-mark.js';
export * from './expiry.js';
