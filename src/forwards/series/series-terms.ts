import { INSTRUMENT_DEFAULTS, type InstrumentRequest, marginProblem } from '../../markets/instrument-terms.js';
import { formatTickSize, gridProblem, parseTickSize } from '../../markets/price.js';
import { MAX_PERIODS_AHEAD, type SeriesCadence } from './listing-plan.js';

/**
 * A forward series' terms, decided without I/O: defaults filled in and the rules that involve
 * several fields checked, so that every contract the series lists passes the instrument's own
 * checks (market-rules §6). Field formats and ranges are the DTO's job; this assumes them.
 */

export interface SeriesTerms {
  readonly modelClassId: string;
  readonly cadence: SeriesCadence;
  readonly periodsAhead: number;
  readonly initialMarginBps: number;
  readonly maintenanceMarginBps: number;
  readonly bondBps: number;
  readonly tickMicroUsdPerMTok: number;
  readonly lotTokens: number;
  readonly makerFeeBps: number;
  readonly takerFeeBps: number;
  readonly collarBps: number;
}

/** What an admin asks for; everything but the model class, cadence and periodsAhead has a default. */
export type SeriesRequest = Pick<SeriesTerms, 'modelClassId' | 'cadence' | 'periodsAhead'> &
  Partial<Omit<SeriesTerms, 'modelClassId' | 'cadence' | 'periodsAhead' | 'tickMicroUsdPerMTok' | 'lotTokens'>> & {
    readonly tickSize?: string;
    readonly lotSize?: number;
  };

export interface SeriesRefusal {
  readonly ok: false;
  readonly fields: string[];
  readonly message: string;
}

export function periodsAheadProblem(cadence: SeriesCadence, periodsAhead: number): SeriesRefusal | undefined {
  const max = MAX_PERIODS_AHEAD[cadence];
  if (Number.isInteger(periodsAhead) && periodsAhead >= 1 && periodsAhead <= max) return undefined;
  return { ok: false, fields: ['periodsAhead'], message: `periodsAhead must be a whole number from 1 to ${max} for a ${cadence} series` };
}

export function resolveSeriesTerms(request: SeriesRequest): { ok: true; terms: SeriesTerms } | SeriesRefusal {
  const ahead = periodsAheadProblem(request.cadence, request.periodsAhead);
  if (ahead) return ahead;
  const tick = parseTickSize(request.tickSize ?? INSTRUMENT_DEFAULTS.tickSize);
  if (!tick.ok) return { ok: false, fields: ['tickSize'], message: `tickSize ${tick.reason}` };
  const grid = { tickMicroUsdPerMTok: tick.value, lotTokens: request.lotSize ?? INSTRUMENT_DEFAULTS.lotSize };
  const badGrid = gridProblem(grid);
  if (badGrid) return { ok: false, fields: ['tickSize', 'lotSize'], message: `tickSize and lotSize: ${badGrid}` };
  const initialMarginBps = request.initialMarginBps ?? INSTRUMENT_DEFAULTS.initialMarginBps;
  const maintenanceMarginBps = request.maintenanceMarginBps ?? INSTRUMENT_DEFAULTS.maintenanceMarginBps;
  const badMargin = marginProblem(initialMarginBps, maintenanceMarginBps);
  if (badMargin) return { ok: false, ...badMargin };
  return {
    ok: true,
    terms: {
      modelClassId: request.modelClassId,
      cadence: request.cadence,
      periodsAhead: request.periodsAhead,
      initialMarginBps,
      maintenanceMarginBps,
      bondBps: request.bondBps ?? INSTRUMENT_DEFAULTS.bondBps,
      ...grid,
      makerFeeBps: request.makerFeeBps ?? INSTRUMENT_DEFAULTS.makerFeeBps,
      takerFeeBps: request.takerFeeBps ?? INSTRUMENT_DEFAULTS.takerFeeBps,
      collarBps: request.collarBps ?? INSTRUMENT_DEFAULTS.collarBps,
    },
  };
}

/** The instrument request that lists the series' contract on `deliveryPeriod`, with the series' terms. */
export function forwardRequestOf(series: SeriesTerms, deliveryPeriod: string): InstrumentRequest & { kind: 'forward' } {
  return {
    modelClassId: series.modelClassId,
    kind: 'forward',
    deliveryPeriod,
    tickSize: formatTickSize(series.tickMicroUsdPerMTok),
    lotSize: series.lotTokens,
    makerFeeBps: series.makerFeeBps,
    takerFeeBps: series.takerFeeBps,
    collarBps: series.collarBps,
    bondBps: series.bondBps,
    initialMarginBps: series.initialMarginBps,
    maintenanceMarginBps: series.maintenanceMarginBps,
  };
}
