import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  deliveryDays,
  INSTRUMENT_DEFAULTS,
  type InstrumentSpec,
  instrumentSymbol,
  MODEL_CLASS_ID_PATTERN,
  parseDeliveryPeriod,
  resolveInstrumentTerms,
  SYMBOL_PATTERN,
  tradingState,
} from './instrument-terms.js';

const NOW = new Date('2026-11-26T12:00:00Z');
const iso = (d: Date) => d.toISOString();

describe('delivery periods', () => {
  test.each([
    ['2027-01', '2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z'],
    ['2027-12', '2027-12-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z'],
    ['2028-02', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    // ISO weeks start on Monday; week 1 holds 4 January, so it may begin in December.
    ['2027-W01', '2027-01-04T00:00:00.000Z', '2027-01-11T00:00:00.000Z'],
    ['2027-W03', '2027-01-18T00:00:00.000Z', '2027-01-25T00:00:00.000Z'],
    ['2026-W01', '2025-12-29T00:00:00.000Z', '2026-01-05T00:00:00.000Z'],
    ['2020-W53', '2020-12-28T00:00:00.000Z', '2021-01-04T00:00:00.000Z'],
    ['2026-W53', '2026-12-28T00:00:00.000Z', '2027-01-04T00:00:00.000Z'],
  ])('%s runs from %s to %s', (label, start, end) => {
    const period = parseDeliveryPeriod(label);
    expect(period.ok && { label: period.value.label, start: iso(period.value.start), end: iso(period.value.end) }).toEqual({ label, start, end });
  });

  test.each([
    ['2027-13', /month "YYYY-MM"/],
    ['2027-00', /month "YYYY-MM"/],
    ['2027-1', /month "YYYY-MM"/],
    ['2027-W00', /ISO week/],
    ['2027-W54', /ISO week/],
    ['2027-w03', /ISO week/],
    ['27-01', /month/],
    ['1999-01', /2000 or later/],
    ['2027-W53', /2027 has 52 ISO weeks/],
    ['2021-W53', /2021 has 52 ISO weeks/],
  ])('%s is refused', (label, reason) => {
    const period = parseDeliveryPeriod(label);
    expect(period.ok).toBe(false);
    if (!period.ok) expect(period.reason).toMatch(reason);
  });

  test('consecutive weeks and months tile time: each ends where the next begins', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 2200 }), fc.integer({ min: 1, max: 12 }), (year, month) => {
        const label = (y: number, m: number) => `${y}-${String(m).padStart(2, '0')}`;
        const next = month === 12 ? label(year + 1, 1) : label(year, month + 1);
        const a = parseDeliveryPeriod(label(year, month));
        const b = parseDeliveryPeriod(next);
        expect(a.ok && b.ok && a.value.end.getTime() === b.value.start.getTime()).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 2200 }), fc.integer({ min: 1, max: 52 }), (year, week) => {
        const label = (y: number, w: number) => `${y}-W${String(w).padStart(2, '0')}`;
        const a = parseDeliveryPeriod(label(year, week));
        const b = parseDeliveryPeriod(label(year, week + 1));
        const following = b.ok ? b : parseDeliveryPeriod(label(year + 1, 1)); // week 53 exists in some years only
        expect(a.ok && a.value.start.getUTCDay()).toBe(1); // Monday
        expect(a.ok && following.ok && a.value.end.getTime() === following.value.start.getTime()).toBe(true);
      }),
    );
  });
});

describe('symbols', () => {
  test('are derived from the model class and the period', () => {
    expect(instrumentSymbol('llama-3.1-70b-instruct')).toBe('LLAMA-3.1-70B-INSTRUCT-SPOT');
    expect(instrumentSymbol('llama-3.1-70b-instruct', '2027-01')).toBe('LLAMA-3.1-70B-INSTRUCT-2027-01');
    expect(instrumentSymbol('llama-3.1-70b-instruct', '2027-W03')).toBe('LLAMA-3.1-70B-INSTRUCT-2027-W03');
  });

  test('every derived symbol is a valid symbol, and different terms never share one', () => {
    const ids = fc.stringMatching(MODEL_CLASS_ID_PATTERN);
    const periods = fc.option(fc.oneof(fc.constantFrom('2027-01', '2031-12'), fc.constantFrom('2027-W03', '2030-W52')), { nil: undefined });
    fc.assert(
      fc.property(ids, periods, ids, periods, (idA, periodA, idB, periodB) => {
        const a = instrumentSymbol(idA, periodA);
        expect(a).toMatch(SYMBOL_PATTERN);
        if (idA !== idB || periodA !== periodB) expect(a).not.toBe(instrumentSymbol(idB, periodB));
      }),
    );
  });
});

describe('resolving a requested instrument', () => {
  test('a spot instrument takes the defaults', () => {
    const resolved = resolveInstrumentTerms({ modelClassId: 'llama3-8b', kind: 'spot' }, NOW);
    expect(resolved).toEqual({
      ok: true,
      terms: {
        kind: 'spot',
        symbol: 'LLAMA3-8B-SPOT',
        modelClassId: 'llama3-8b',
        tickMicroUsdPerMTok: 1000,
        lotTokens: 1000,
        makerFeeBps: 0,
        takerFeeBps: 10,
        collarBps: 1000,
        spotWindowSeconds: 86_400,
        bondBps: 1000,
      },
    });
  });

  test('a forward takes the defaults: trading stops at 00:00 UTC the day before delivery', () => {
    const monthly = resolveInstrumentTerms({ modelClassId: 'llama3-8b', kind: 'forward', deliveryPeriod: '2027-01' }, NOW);
    expect(monthly).toEqual({
      ok: true,
      terms: {
        kind: 'forward',
        symbol: 'LLAMA3-8B-2027-01',
        modelClassId: 'llama3-8b',
        tickMicroUsdPerMTok: 1000,
        lotTokens: 1000,
        makerFeeBps: 0,
        takerFeeBps: 10,
        collarBps: 1000,
        bondBps: 1000,
        deliveryPeriod: '2027-01',
        deliveryStart: new Date('2027-01-01T00:00:00Z'),
        deliveryEnd: new Date('2027-02-01T00:00:00Z'),
        lastTradeAt: new Date('2026-12-31T00:00:00Z'),
        initialMarginBps: 2000,
        maintenanceMarginBps: 1000,
      },
    });
    expect(INSTRUMENT_DEFAULTS).toMatchObject({ initialMarginBps: 2000, maintenanceMarginBps: 1000, bondBps: 1000 });
    // ISO week 3 of 2027 starts on Monday 18 January: the last trade is Sunday 00:00.
    const weekly = resolveInstrumentTerms({ modelClassId: 'llama3-8b', kind: 'forward', deliveryPeriod: '2027-W03' }, NOW);
    expect(weekly.ok && weekly.terms).toMatchObject({ lastTradeAt: new Date('2027-01-17T00:00:00Z') });
  });

  test('a forward may stop trading at any moment up to its delivery start, and take its own margin and bond', () => {
    for (const lastTradeAt of [new Date('2026-12-31T12:00:00Z'), new Date('2027-01-01T00:00:00Z'), new Date('2026-11-26T12:00:00.001Z')]) {
      const resolved = resolveInstrumentTerms({ modelClassId: 'llama3-8b', kind: 'forward', deliveryPeriod: '2027-01', lastTradeAt }, NOW);
      expect(resolved.ok && resolved.terms).toMatchObject({ lastTradeAt });
    }
    const weekly = resolveInstrumentTerms(
      {
        modelClassId: 'llama3-8b',
        kind: 'forward',
        deliveryPeriod: '2027-W03',
        tickSize: '0.01',
        lotSize: 100,
        initialMarginBps: 10_000,
        maintenanceMarginBps: 10_000,
        bondBps: 0,
      },
      NOW,
    );
    expect(weekly.ok && weekly.terms).toMatchObject({
      symbol: 'LLAMA3-8B-2027-W03',
      tickMicroUsdPerMTok: 10_000,
      lotTokens: 100,
      initialMarginBps: 10_000,
      maintenanceMarginBps: 10_000,
      bondBps: 0,
    });
    const lowest = resolveInstrumentTerms({ modelClassId: 'x', kind: 'forward', deliveryPeriod: '2027-01', initialMarginBps: 1, maintenanceMarginBps: 1 }, NOW);
    expect(lowest.ok).toBe(true);
  });

  test('a forward whose default last trade has passed is refused, naming lastTradeAt', () => {
    const lateOnTheEve = new Date('2026-12-31T00:00:00Z');
    const refused = resolveInstrumentTerms({ modelClassId: 'x', kind: 'forward', deliveryPeriod: '2027-01' }, lateOnTheEve);
    expect(refused).toMatchObject({ ok: false, code: 'LAST_TRADE_IN_PAST', fields: ['lastTradeAt'] });
    if (!refused.ok) expect(refused.message).toContain('2026-12-31T00:00:00.000Z');
    const justBefore = resolveInstrumentTerms({ modelClassId: 'x', kind: 'forward', deliveryPeriod: '2027-01' }, new Date('2026-12-30T23:59:59.999Z'));
    expect(justBefore.ok).toBe(true);
  });

  test('a spot instrument keeps its own bond', () => {
    const resolved = resolveInstrumentTerms({ modelClassId: 'llama3-8b', kind: 'spot', bondBps: 250 }, NOW);
    expect(resolved.ok && resolved.terms).toMatchObject({ kind: 'spot', bondBps: 250 });
  });

  test('delivery days: the UTC days of the period', () => {
    const days = (label: string) => {
      const terms = resolveInstrumentTerms({ modelClassId: 'x', kind: 'forward', deliveryPeriod: label }, NOW);
      return terms.ok && terms.terms.kind === 'forward' ? deliveryDays(terms.terms) : undefined;
    };
    expect([days('2027-01'), days('2027-02'), days('2028-02'), days('2027-04'), days('2027-W03'), days('2026-W53')]).toEqual([31, 28, 29, 30, 7, 7]);
  });

  test.each([
    [{ kind: 'spot', deliveryPeriod: '2027-01' }, 'VALIDATION_FAILED', ['deliveryPeriod']],
    [{ kind: 'spot', lastTradeAt: new Date('2027-01-01T00:00:00Z') }, 'VALIDATION_FAILED', ['lastTradeAt']],
    [{ kind: 'forward' }, 'VALIDATION_FAILED', ['deliveryPeriod']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', spotWindowSeconds: 3600 }, 'VALIDATION_FAILED', ['spotWindowSeconds']],
    [{ kind: 'forward', deliveryPeriod: '2027-W53' }, 'VALIDATION_FAILED', ['deliveryPeriod']],
    [{ kind: 'forward', deliveryPeriod: '2026-11' }, 'DELIVERY_PERIOD_PAST', ['deliveryPeriod']],
    [{ kind: 'forward', deliveryPeriod: '2020-01' }, 'DELIVERY_PERIOD_PAST', ['deliveryPeriod']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', lastTradeAt: new Date('2027-01-01T00:00:00.001Z') }, 'VALIDATION_FAILED', ['lastTradeAt']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', lastTradeAt: new Date('2026-11-26T11:59:59Z') }, 'LAST_TRADE_IN_PAST', ['lastTradeAt']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', lastTradeAt: NOW }, 'LAST_TRADE_IN_PAST', ['lastTradeAt']],
    // 2026-W48 began on Monday 23 November.
    [{ kind: 'forward', deliveryPeriod: '2026-W48' }, 'DELIVERY_PERIOD_PAST', ['deliveryPeriod']],
    [{ kind: 'spot', initialMarginBps: 2000 }, 'VALIDATION_FAILED', ['initialMarginBps']],
    [{ kind: 'spot', maintenanceMarginBps: 1000 }, 'VALIDATION_FAILED', ['maintenanceMarginBps']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', initialMarginBps: 500 }, 'VALIDATION_FAILED', ['maintenanceMarginBps']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', maintenanceMarginBps: 2001 }, 'VALIDATION_FAILED', ['maintenanceMarginBps']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', maintenanceMarginBps: 0 }, 'VALIDATION_FAILED', ['maintenanceMarginBps']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', initialMarginBps: 0 }, 'VALIDATION_FAILED', ['initialMarginBps']],
    [{ kind: 'forward', deliveryPeriod: '2027-01', initialMarginBps: 10_001 }, 'VALIDATION_FAILED', ['initialMarginBps']],
    [{ kind: 'spot', tickSize: '0.001', lotSize: 999 }, 'VALIDATION_FAILED', ['tickSize', 'lotSize']],
    [{ kind: 'spot', tickSize: '0.000001' }, 'VALIDATION_FAILED', ['tickSize', 'lotSize']],
  ] as const)('%o is refused with %s naming %o', (request, code, fields) => {
    const resolved = resolveInstrumentTerms({ modelClassId: 'llama3-8b', ...request }, NOW);
    expect(resolved).toMatchObject({ ok: false, code, fields });
    if (!resolved.ok) for (const field of fields) expect(resolved.message).toContain(field);
  });
});

describe('trading state', () => {
  const base = { modelClassId: 'x', tickMicroUsdPerMTok: 1000, lotTokens: 1000, makerFeeBps: 0, takerFeeBps: 10, collarBps: 1000, status: 'active' } as const;
  const spot: InstrumentSpec = { ...base, kind: 'spot', symbol: 'X-SPOT', spotWindowSeconds: 86_400, bondBps: 1000 };
  const forward: InstrumentSpec = {
    ...base,
    kind: 'forward',
    symbol: 'X-2027-01',
    deliveryPeriod: '2027-01',
    deliveryStart: new Date('2027-01-01T00:00:00Z'),
    deliveryEnd: new Date('2027-02-01T00:00:00Z'),
    lastTradeAt: new Date('2026-12-31T00:00:00Z'),
    bondBps: 1000,
    initialMarginBps: 2000,
    maintenanceMarginBps: 1000,
  };

  test('a halt stops trading; a forward closes at lastTradeAt', () => {
    expect(tradingState(spot, NOW)).toBe('open');
    expect(tradingState({ ...spot, status: 'halted' }, NOW)).toBe('halted');
    expect(tradingState(forward, NOW)).toBe('open');
    expect(tradingState(forward, new Date('2026-12-30T23:59:59.999Z'))).toBe('open');
    expect(tradingState(forward, new Date('2026-12-31T00:00:00Z'))).toBe('closed');
  });
});
