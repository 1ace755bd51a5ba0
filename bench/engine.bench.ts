// Matching engine benchmark: `npm run bench:engine [-- --commands N --warmup N --seed N]`.
//
// One workload (exchange-core's published mix, see engine-workload.ts) is generated once and
// replayed through tokex's FastOrderBook and through nodejs-order-book. For each engine:
//  - throughput: a fresh book replays the fill and warm-up commands untimed, then the measured
//    commands under one clock (process.hrtime.bigint) with nothing else in the loop; repeated
//    on fresh books until the engine has been timed for 5 s in all, the median run reported;
//  - latency: another fresh book replays the same commands, each measured command timed on its
//    own with process.hrtime.bigint() into an HDR histogram (ns). The figures include the
//    timer's own cost, printed as "timer overhead".
// Both engines must end with the same book, which is checked.

import os from 'node:os';
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import { type Depth, type EngineDriver, nodejsOrderBookDriver, tokexDriver } from './engine-drivers.js';
import { generateWorkload, OP_NAMES, type Workload } from './engine-workload.js';

interface Result {
  readonly name: string;
  readonly commandsPerSecond: number;
  readonly latency: hdr.Histogram;
  readonly depth: Depth;
}

const { values: args } = parseArgs({
  options: {
    commands: { type: 'string', default: '3000000' },
    warmup: { type: 'string', default: '500000' },
    seed: { type: 'string', default: '20240601' },
  },
});
const measured = Number(args.commands);
const warmup = Number(args.warmup);
const seed = Number(args.seed);
for (const [name, value, least] of [['commands', measured, 1], ['warmup', warmup, 0], ['seed', seed, 0]] as const) {
  if (!Number.isSafeInteger(value) || value < least) throw new Error(`--${name} must be an integer of at least ${least}`);
}

const MIN_TIMED_SECONDS = 5;

const started = process.hrtime.bigint();
const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`;
const log = (line: string) => console.log(`[${elapsed().padStart(7)}] ${line}`);
const format = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();

console.log(`Matching engine benchmark: Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs`);
log(`generating the workload: ${format(measured)} measured commands after a warm-up of ${format(warmup)} (seed ${seed})`);
const workload = generateWorkload({ measured, warmup, seed });
const { stats } = workload;
log(`workload: ${OP_NAMES.map((name, op) => `${name} ${stats.mixPercent[op].toFixed(1)} %`).join(', ')}`);
log(
  `workload: ${format(stats.averageRestingOrders)} resting orders over ${format(stats.averagePriceLevels)} price levels on average, ` +
    `${stats.tradingCommandsPercent.toFixed(1)} % of commands trade (${format(stats.trades)} trades)`,
);

const timerOverhead = measureTimerOverhead();
const results = [run(tokexDriver, workload), run(nodejsOrderBookDriver, workload)];
const [tokex, peer] = results;
const sameBook = JSON.stringify(tokex.depth) === JSON.stringify(peer.depth);
log(`final books ${sameBook ? 'identical' : 'DIFFER'}: ${tokex.depth.bids.length} bid and ${tokex.depth.asks.length} ask levels`);

console.log('');
console.log(`| engine | commands/s | p50 | p99 | p99.9 | max |`);
console.log(`|---|---:|---:|---:|---:|---:|`);
for (const { name, commandsPerSecond, latency } of results) {
  const at = (percentile: number) => `${format(latency.getValueAtPercentile(percentile))} ns`;
  console.log(`| ${name} | ${format(commandsPerSecond)} | ${at(50)} | ${at(99)} | ${at(99.9)} | ${format(latency.maxValue)} ns |`);
}
console.log('');
console.log(`tokex / nodejs-order-book throughput: ${(tokex.commandsPerSecond / peer.commandsPerSecond).toFixed(1)}x`);
console.log(`timer overhead (two hrtime.bigint() calls, p50): ${format(timerOverhead)} ns`);
if (!sameBook) process.exitCode = 1;

function run<Engine>(driver: EngineDriver<Engine>, w: Workload): Result {
  // A short run is at the mercy of whatever else the machine does; repeat until the engine has
  // been timed for MIN_TIMED_SECONDS in all and take the median run.
  const rates: number[] = [];
  let engine: Engine;
  let timedSeconds = 0;
  do {
    collectGarbage();
    engine = driver.create(w);
    for (let i = 0; i < w.measuredFrom; i++) driver.apply(engine, w, i);
    const start = process.hrtime.bigint();
    for (let i = w.measuredFrom; i < w.size; i++) driver.apply(engine, w, i);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    timedSeconds += seconds;
    rates.push((w.size - w.measuredFrom) / seconds);
    log(`${driver.name}: throughput run ${rates.length}: ${format(rates.at(-1) as number)} commands/s (${seconds.toFixed(2)} s)`);
  } while (timedSeconds < MIN_TIMED_SECONDS);
  const commandsPerSecond = median(rates);

  collectGarbage();
  log(`${driver.name}: latency run`);
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
  const timed = driver.create(w);
  for (let i = 0; i < w.measuredFrom; i++) driver.apply(timed, w, i);
  for (let i = w.measuredFrom; i < w.size; i++) {
    const before = process.hrtime.bigint();
    driver.apply(timed, w, i);
    latency.recordValue(Number(process.hrtime.bigint() - before));
  }
  log(`${driver.name}: p50 ${format(latency.getValueAtPercentile(50))} ns, p99 ${format(latency.getValueAtPercentile(99))} ns`);
  return { name: driver.name, commandsPerSecond, latency, depth: driver.depth(engine) };
}

function measureTimerOverhead(): number {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e9, numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < 1_000_000; i++) {
    const before = process.hrtime.bigint();
    histogram.recordValue(Number(process.hrtime.bigint() - before));
  }
  return histogram.getValueAtPercentile(50);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
