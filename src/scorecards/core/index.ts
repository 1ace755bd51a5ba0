export * from './aggregate.js';
export * from './histogram.js';
export * from './scorecard.js';
export * from './windows.js';
