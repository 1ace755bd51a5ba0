import { type Checked, DEFAULT_GRID, formatTickSize, gridProblem, parseTickSize, type PriceGrid } from './price.js';

/**
 * What an instrument is, decided without I/O or a clock (market-rules §1): its symbol, its
 * delivery period, its defaults, and whether it trades at a given moment. The service stores and
 * serves the result; the order path reads it back as an `InstrumentSpec`.
 */

export const INSTRUMENT_KINDS = ['spot', 'forward'] as const;
export type InstrumentKind = (typeof INSTRUMENT_KINDS)[number];
export const INSTRUMENT_STATUSES = ['active', 'halted'] as const;
export type InstrumentStatus = (typeof INSTRUMENT_STATUSES)[number];

/** Model class ids are slugs: they become the upper-cased stem of every symbol. */
export const MODEL_CLASS_ID_PATTERN = /^[a-z0-9][a-z0-9.-]{0,62}[a-z0-9]$/;
export const MODEL_CLASS_ID_RULE = '2 to 64 lowercase letters, digits, "." or "-", starting and ending with a letter or digit';
/** `2027-01` (a calendar month) or `2027-W03` (an ISO week), UTC. */
export const DELIVERY_PERIOD_PATTERN = /^(\d{4})-(?:(0[1-9]|1[0-2])|W(0[1-9]|[1-4]\d|5[0-3]))$/;
/** What a symbol can look like; whether it exists is the database's answer. */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9.-]{1,79}$/;

/** Defaults of a new instrument (market-rules §1–3; fees are the exchange's choice, docs/markets.md). */
export const INSTRUMENT_DEFAULTS = {
  tickSize: formatTickSize(DEFAULT_GRID.tickMicroUsdPerMTok),
  lotSize: DEFAULT_GRID.lotTokens,
  makerFeeBps: 0,
  takerFeeBps: 10,
  collarBps: 1000,
  spotWindowSeconds: 86_400,
  bondBps: 1000,
  initialMarginBps: 2000,
  maintenanceMarginBps: 1000,
} as const;

interface InstrumentBase extends PriceGrid {
  readonly symbol: string;
  readonly modelClassId: string;
  readonly makerFeeBps: number;
  readonly takerFeeBps: number;
  /** Market orders fill only within ±collarBps of the reference price. */
  readonly collarBps: number;
  /**
   * The provider's performance bond, in bps of notional: spot, on each sell (market-rules §4);
   * forward, the short's bond on each delivery the contract expires into (§6).
   */
  readonly bondBps: number;
}

export interface SpotTerms extends InstrumentBase {
  readonly kind: 'spot';
  /** A fill may be consumed within this many seconds of the fill. */
  readonly spotWindowSeconds: number;
}

export interface ForwardTerms extends InstrumentBase {
  readonly kind: 'forward';
  /** `2027-01` or `2027-W03`. */
  readonly deliveryPeriod: string;
  /** Inclusive. */
  readonly deliveryStart: Date;
  /** Exclusive: the start of the next period. */
  readonly deliveryEnd: Date;
  /** Orders are accepted strictly before this instant; at or before deliveryStart. */
  readonly lastTradeAt: Date;
  /** Margin rates in bps of notional (market-rules §6): 1 <= maintenance <= initial <= 10000. */
  readonly initialMarginBps: number;
  readonly maintenanceMarginBps: number;
}

export type InstrumentTerms = SpotTerms | ForwardTerms;

/** An instrument as other modules use it: its terms (a PriceGrid too) and whether it is halted. */
export type InstrumentSpec = InstrumentTerms & { readonly status: InstrumentStatus };

export interface DeliveryPeriod {
  readonly label: string;
  readonly start: Date;
  readonly end: Date;
}

export const DAY_MS = 86_400_000;

/** Monday 00:00 UTC of ISO week 1 of `year`: the week holding 4 January. */
function isoWeekOneStart(year: number): number {
  const jan4 = Date.UTC(year, 0, 4);
  const daysSinceMonday = (new Date(jan4).getUTCDay() + 6) % 7;
  return jan4 - daysSinceMonday * DAY_MS;
}

/** A month or ISO week as UTC instants: [start, end). */
export function parseDeliveryPeriod(text: string): Checked<DeliveryPeriod> {
  const match = DELIVERY_PERIOD_PATTERN.exec(text);
  if (!match) return { ok: false, reason: 'must be a month "YYYY-MM" or an ISO week "YYYY-Www", e.g. "2027-01" or "2027-W03"' };
  const year = Number(match[1]);
  if (year < 2000) return { ok: false, reason: 'must be in the year 2000 or later' };
  if (match[2] !== undefined) {
    const month = Number(match[2]) - 1;
    return { ok: true, value: { label: text, start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) } };
  }
  const week = Number(match[3]);
  const start = isoWeekOneStart(year) + (week - 1) * 7 * DAY_MS;
  if (start >= isoWeekOneStart(year + 1)) return { ok: false, reason: `names week ${week}, but ${year} has 52 ISO weeks` };
  return { ok: true, value: { label: text, start: new Date(start), end: new Date(start + 7 * DAY_MS) } };
}

/**
 * What a forward's quantity means (market-rules §6): tokens over the whole period, in lots as for
 * spot, delivered at a flat rate as one delivery per UTC day (quantity / days, remainder first).
 */
export const FORWARD_QUANTITY_UNIT = 'tokens over the delivery period, delivered as one delivery per UTC day';

/** UTC days in [deliveryStart, deliveryEnd): one delivery per day when the contract expires. */
export function deliveryDays(terms: Pick<ForwardTerms, 'deliveryStart' | 'deliveryEnd'>): number {
  return Math.round((terms.deliveryEnd.getTime() - terms.deliveryStart.getTime()) / DAY_MS);
}

/** 00:00 UTC of the day before delivery starts (market-rules §6): a day to settle and allocate. */
export function defaultLastTradeAt(deliveryStart: Date): Date {
  return new Date(deliveryStart.getTime() - DAY_MS);
}

/** `LLAMA-3.1-70B-INSTRUCT-SPOT`, `LLAMA-3.1-70B-INSTRUCT-2027-01`, `LLAMA-3.1-70B-INSTRUCT-2027-W03`. */
export function instrumentSymbol(modelClassId: string, deliveryPeriod?: string): string {
  return `${modelClassId.toUpperCase()}-${deliveryPeriod ?? 'SPOT'}`;
}

/** What an admin asks for; everything but the model class and kind has a default. */
export interface InstrumentRequest {
  readonly modelClassId: string;
  readonly kind: InstrumentKind;
  readonly deliveryPeriod?: string;
  readonly tickSize?: string;
  readonly lotSize?: number;
  readonly makerFeeBps?: number;
  readonly takerFeeBps?: number;
  readonly collarBps?: number;
  readonly spotWindowSeconds?: number;
  readonly bondBps?: number;
  readonly lastTradeAt?: Date;
  readonly initialMarginBps?: number;
  readonly maintenanceMarginBps?: number;
}

/** Why a request cannot become an instrument: the field to blame, and a code for the client. */
export interface TermsRefusal {
  readonly ok: false;
  readonly code: 'VALIDATION_FAILED' | 'DELIVERY_PERIOD_PAST' | 'LAST_TRADE_IN_PAST';
  readonly fields: readonly string[];
  readonly message: string;
}

const refusal = (fields: string[], message: string, code: TermsRefusal['code'] = 'VALIDATION_FAILED'): TermsRefusal => ({
  ok: false,
  code,
  fields,
  message,
});

/**
 * The full terms of a requested instrument at `now`: defaults filled in, symbol and delivery
 * period derived, and the rules that involve several fields or the clock checked. Field formats
 * and ranges are the DTO's job; this assumes them.
 */
export function resolveInstrumentTerms(request: InstrumentRequest, now: Date): Resolved {
  const tick = parseTickSize(request.tickSize ?? INSTRUMENT_DEFAULTS.tickSize);
  if (!tick.ok) return refusal(['tickSize'], `tickSize ${tick.reason}`);
  const grid: PriceGrid = { tickMicroUsdPerMTok: tick.value, lotTokens: request.lotSize ?? INSTRUMENT_DEFAULTS.lotSize };
  const badGrid = gridProblem(grid);
  if (badGrid) return refusal(['tickSize', 'lotSize'], `tickSize and lotSize: ${badGrid}`);
  const base: Base = {
    modelClassId: request.modelClassId,
    ...grid,
    makerFeeBps: request.makerFeeBps ?? INSTRUMENT_DEFAULTS.makerFeeBps,
    takerFeeBps: request.takerFeeBps ?? INSTRUMENT_DEFAULTS.takerFeeBps,
    collarBps: request.collarBps ?? INSTRUMENT_DEFAULTS.collarBps,
    bondBps: request.bondBps ?? INSTRUMENT_DEFAULTS.bondBps,
  };
  return request.kind === 'spot' ? resolveSpot(request, base) : resolveForward(request, base, now);
}

type Resolved = { ok: true; terms: InstrumentTerms } | TermsRefusal;
type Base = Omit<InstrumentBase, 'symbol'>;

const FORWARD_ONLY = ['deliveryPeriod', 'lastTradeAt', 'initialMarginBps', 'maintenanceMarginBps'] as const;

function resolveSpot(request: InstrumentRequest, base: Base): Resolved {
  const misplaced = FORWARD_ONLY.find((field) => request[field] !== undefined);
  if (misplaced) return refusal([misplaced], `${misplaced} applies to forwards only`);
  const spotWindowSeconds = request.spotWindowSeconds ?? INSTRUMENT_DEFAULTS.spotWindowSeconds;
  return { ok: true, terms: { ...base, kind: 'spot', symbol: instrumentSymbol(request.modelClassId), spotWindowSeconds } };
}

function resolveForward(request: InstrumentRequest, base: Base, now: Date): Resolved {
  if (request.spotWindowSeconds !== undefined) return refusal(['spotWindowSeconds'], 'spotWindowSeconds applies to spot instruments only');
  if (request.deliveryPeriod === undefined) return refusal(['deliveryPeriod'], 'deliveryPeriod is required for a forward, e.g. "2027-01" or "2027-W03"');
  const period = parseDeliveryPeriod(request.deliveryPeriod);
  if (!period.ok) return refusal(['deliveryPeriod'], `deliveryPeriod ${period.reason}`);
  const { start, end, label } = period.value;
  if (start.getTime() <= now.getTime()) {
    return refusal(['deliveryPeriod'], `deliveryPeriod ${label} began at ${start.toISOString()}: forwards are listed before their period`, 'DELIVERY_PERIOD_PAST');
  }
  const lastTradeAt = request.lastTradeAt ?? defaultLastTradeAt(start);
  if (lastTradeAt.getTime() > start.getTime()) {
    return refusal(['lastTradeAt'], `lastTradeAt must be at or before the start of delivery, ${start.toISOString()}`);
  }
  if (lastTradeAt.getTime() <= now.getTime()) {
    const which = request.lastTradeAt ? 'lastTradeAt' : `lastTradeAt (by default 00:00 UTC the day before delivery, ${lastTradeAt.toISOString()})`;
    return refusal(['lastTradeAt'], `${which} must be in the future`, 'LAST_TRADE_IN_PAST');
  }
  const initialMarginBps = request.initialMarginBps ?? INSTRUMENT_DEFAULTS.initialMarginBps;
  const maintenanceMarginBps = request.maintenanceMarginBps ?? INSTRUMENT_DEFAULTS.maintenanceMarginBps;
  const badMargin = marginProblem(initialMarginBps, maintenanceMarginBps);
  if (badMargin) return refusal(badMargin.fields, badMargin.message);
  return {
    ok: true,
    terms: {
      ...base,
      kind: 'forward',
      symbol: instrumentSymbol(request.modelClassId, label),
      deliveryPeriod: label,
      deliveryStart: start,
      deliveryEnd: end,
      lastTradeAt,
      initialMarginBps,
      maintenanceMarginBps,
    },
  };
}

/** `1 <= maintenance <= initial <= 10000` (market-rules §6), or what is wrong, naming the fields. */
export function marginProblem(initialMarginBps: number, maintenanceMarginBps: number): { fields: string[]; message: string } | undefined {
  if (!Number.isInteger(initialMarginBps) || initialMarginBps < 1 || initialMarginBps > 10_000) {
    return { fields: ['initialMarginBps'], message: 'initialMarginBps must be a whole number from 1 to 10000' };
  }
  if (!Number.isInteger(maintenanceMarginBps) || maintenanceMarginBps < 1 || maintenanceMarginBps > initialMarginBps) {
    return {
      fields: ['maintenanceMarginBps'],
      message: `maintenanceMarginBps must be a whole number from 1 to initialMarginBps (${initialMarginBps})`,
    };
  }
  return undefined;
}

/**
 * Whether an instrument takes orders at `now`: a halt stops it until resumed; a forward closes
 * for good at its lastTradeAt.
 */
export function tradingState(spec: InstrumentSpec, now: Date): 'open' | 'halted' | 'closed' {
  if (spec.status === 'halted') return 'halted';
  if (spec.kind === 'forward' && now.getTime() >= spec.lastTradeAt.getTime()) return 'closed';
  return 'open';
}
