import { parseUsd } from '../common/money.js';

/**
 * Prices and quantities on an instrument's grid (market-rules §2). On the API a price is a decimal
 * string of USD per 1,000,000 tokens and a quantity an integer number of tokens; inside, a price is
 * an integer number of ticks and a quantity an integer number of lots, as the matching engine
 * takes them. Nothing here uses floating point: decimals are parsed on their digits, and notional
 * and fees are bigint micro-USD.
 *
 * A price of 1 micro-USD per million tokens on 1,000,000 tokens is 1 micro-USD, so
 * notional (micro-USD) = priceMicros × tokens / 10^6 = ticks × lots × (tick × lot / 10^6).
 * A grid is valid only when `tick × lot / 10^6` is a whole number: notional is then exact.
 */

/** Micro-USD per USD, and tokens per million tokens: the same 10^6. */
const MILLION = 1_000_000n;

/** The finest tick is 0.000001 USD/MTok (1 micro-USD per million tokens); the coarsest 1,000 USD/MTok. */
export const MAX_TICK_MICROS = 1_000_000_000;
export const MAX_LOT_TOKENS = 1_000_000_000;
/** 1,000,000 USD per million tokens: far above any real price, and ticks stay safe integers. */
export const MAX_PRICE_MICROS = 1_000_000_000_000;
/**
 * One trillion tokens per order. With MAX_PRICE_MICROS this bounds notional at 10^18 micro-USD,
 * inside PostgreSQL's BIGINT (9.2 × 10^18).
 */
export const MAX_QUANTITY_TOKENS = 1_000_000_000_000;

/** An instrument's grid: every price is a whole number of ticks, every quantity of lots. */
export interface PriceGrid {
  /** One tick in micro-USD per million tokens: 1000 = 0.001 USD/MTok. */
  readonly tickMicroUsdPerMTok: number;
  /** Tokens per lot. */
  readonly lotTokens: number;
}

/** market-rules §2: tick 0.001 USD/MTok, lot 1,000 tokens, so notional = ticks × lots exactly. */
export const DEFAULT_GRID: PriceGrid = { tickMicroUsdPerMTok: 1000, lotTokens: 1000 };

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const accept = <T>(value: T): Checked<T> => ({ ok: true, value });
const refuse = <T>(reason: string): Checked<T> => ({ ok: false, reason });

/** Why a grid is not usable, or undefined when it is. */
export function gridProblem(grid: PriceGrid): string | undefined {
  const { tickMicroUsdPerMTok: tick, lotTokens: lot } = grid;
  if (!Number.isSafeInteger(tick) || tick < 1 || tick > MAX_TICK_MICROS) return 'tick must be 0.000001 to 1000 USD per million tokens';
  if (!Number.isSafeInteger(lot) || lot < 1 || lot > MAX_LOT_TOKENS) return `lot must be 1 to ${MAX_LOT_TOKENS} tokens`;
  if ((BigInt(tick) * BigInt(lot)) % MILLION !== 0n) {
    return `one tick on one lot must be a whole number of micro-USD: tickSize ${formatTickSize(tick)} × lotSize ${lot} tokens / 1000000 is not`;
  }
  return undefined;
}

/** Micro-USD of one tick on one lot: notional = ticks × lots × this. 1 on the default grid. */
export function notionalPerTickLot(grid: PriceGrid): bigint {
  return (BigInt(grid.tickMicroUsdPerMTok) * BigInt(grid.lotTokens)) / MILLION;
}

/**
 * Parses a positive decimal of USD per million tokens ("0.450") into micro-USD per million
 * tokens, with a reason for the usual mistakes.
 */
function parseMicrosPerMTok(text: string): Checked<bigint> {
  if (text.startsWith('-')) return refuse('must be more than zero');
  if (/^\d+\.\d{7,}$/.test(text)) return refuse('has more than 6 decimals: the finest step is 0.000001 USD per million tokens');
  // The same digits as a USD amount: at most 6 decimals, no sign, no exponent, no leading zeros.
  const parsed = parseUsd(text);
  if (!parsed.ok) return refuse('must be a decimal string of USD per million tokens, e.g. "0.450"');
  if (parsed.micros === 0n) return refuse('must be more than zero');
  return accept(parsed.micros);
}

/** A price string on the grid → ticks: "0.450" with tick 0.001 → 450. */
export function parsePrice(text: string, grid: PriceGrid): Checked<number> {
  const micros = parseMicrosPerMTok(text);
  if (!micros.ok) return micros;
  if (micros.value > BigInt(MAX_PRICE_MICROS)) return refuse('must not exceed 1000000 USD per million tokens');
  const tick = BigInt(grid.tickMicroUsdPerMTok);
  if (micros.value % tick !== 0n) return refuse(`must be a multiple of the tick size ${formatTickSize(grid.tickMicroUsdPerMTok)}`);
  return accept(Number(micros.value / tick));
}

/** Ticks → the price string, with as many decimals as the tick has: 450 ticks of 0.001 → "0.450". */
export function formatPrice(ticks: number, grid: PriceGrid): string {
  return formatMicros(BigInt(ticks) * BigInt(grid.tickMicroUsdPerMTok), decimalsOf(grid.tickMicroUsdPerMTok));
}

/** A tick size string → micro-USD per million tokens: "0.001" → 1000. */
export function parseTickSize(text: string): Checked<number> {
  const micros = parseMicrosPerMTok(text);
  if (!micros.ok) return micros;
  if (micros.value > BigInt(MAX_TICK_MICROS)) return refuse('must not exceed 1000 USD per million tokens');
  return accept(Number(micros.value));
}

/** Micro-USD per million tokens → the shortest decimal string: 1000 → "0.001", 2500000 → "2.5". */
export function formatTickSize(micros: number): string {
  return formatMicros(BigInt(micros), decimalsOf(micros));
}

/** A quantity in tokens → lots: it must be a positive whole number of lots. */
export function tokensToLots(tokens: number, grid: PriceGrid): Checked<number> {
  if (!Number.isSafeInteger(tokens) || tokens < 1) return refuse('must be a positive integer number of tokens');
  if (tokens > MAX_QUANTITY_TOKENS) return refuse(`must not exceed ${MAX_QUANTITY_TOKENS} tokens`);
  if (tokens % grid.lotTokens !== 0) return refuse(`must be a multiple of the lot size ${grid.lotTokens} tokens`);
  return accept(tokens / grid.lotTokens);
}

export function lotsToTokens(lots: number, grid: PriceGrid): number {
  return lots * grid.lotTokens;
}

/** Notional in micro-USD, exact: ticks × lots × (tick × lot / 10^6). */
export function notionalMicros(priceTicks: number, lots: number, grid: PriceGrid): bigint {
  return BigInt(priceTicks) * BigInt(lots) * notionalPerTickLot(grid);
}

/** A fee of `feeBps` on a notional, rounded up to the micro-USD (market-rules §2). */
export function feeMicros(notional: bigint, feeBps: number): bigint {
  return (notional * BigInt(feeBps) + 9_999n) / 10_000n;
}

/** Decimals needed to write a multiple of `micros` exactly: 1000 → 3, 1 → 6, 1000000 → 0. */
function decimalsOf(micros: number): number {
  let decimals = 6;
  for (let m = micros; decimals > 0 && m % 10 === 0; m /= 10) decimals--;
  return decimals;
}

function formatMicros(micros: bigint, decimals: number): string {
  const whole = micros / MILLION;
  if (decimals === 0) return whole.toString();
  const fraction = (micros % MILLION).toString().padStart(6, '0').slice(0, decimals);
  return `${whole}.${fraction}`;
}
