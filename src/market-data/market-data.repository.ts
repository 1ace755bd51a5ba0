import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { type SpotIndexPrice, spotIndexPrice } from '../markets/spot-index.js';
import type { FillRecord, TradeStats } from './market-data.format.js';

/**
 * Fills within one command share its `seq`; their order inside it is the last part of the fill id
 * (`SYMBOL:seq:n`), which the writer numbers in the order the engine traded.
 */
const FILL_ORDER = `substring(id from '[0-9]+$')::int`;

/**
 * The sequence before a time: the newest fill older than `$since` (0 if none). `fills` is indexed
 * on (instrument, seq) only, and a book's writer stamps fills in seq order, so walking that index
 * backwards from the newest fill finds it after reading just the fills since `$since`, and
 * `seq > this` then bounds the range scan the same way: a time window costs the fills inside it,
 * not the instrument's whole history, without a second index.
 */
const SEQ_BEFORE = (instrument: string, since: string) =>
  `coalesce((SELECT seq FROM fills WHERE instrument = ${instrument} AND created_at < ${since} ORDER BY seq DESC LIMIT 1), 0)`;

const STATS_COLUMNS = `count(*)::int AS trades, coalesce(sum(quantity_lots), 0)::text AS lots, coalesce(sum(notional_micros), 0)::text AS notional,
  (array_agg(price_ticks ORDER BY seq, n))[1]::text AS open, max(price_ticks)::text AS high, min(price_ticks)::text AS low,
  (array_agg(price_ticks ORDER BY seq DESC, n DESC))[1]::text AS close`;

interface StatsRow {
  trades: number;
  lots: string;
  notional: string;
  open: string | null;
  high: string | null;
  low: string | null;
  close: string | null;
}

export type PublicTrade = Pick<FillRecord, 'id' | 'seq' | 'priceTicks' | 'lots' | 'takerSide' | 'createdAt'> & { readonly n: number };

/** Market data reads of `fills` and `instrument_books`, in engine units. */
@Injectable()
export class MarketDataRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Public trades, newest first, strictly before the cursor `(seq, n)`; `limit + 1` rows for pageOf. */
  async trades(instrument: string, before: { seq: number; n: number } | null, limit: number): Promise<PublicTrade[]> {
    const rows: Array<{ id: string; seq: string; n: number; taker_side: 'buy' | 'sell'; price_ticks: string; quantity_lots: string; created_at: Date }> =
      await this.dataSource.query(
        `SELECT id, seq, n, taker_side, price_ticks, quantity_lots, created_at
           FROM (SELECT *, ${FILL_ORDER} AS n FROM fills WHERE instrument = $1 AND ($2::bigint IS NULL OR seq <= $2)) f
          WHERE $2::bigint IS NULL OR seq < $2 OR n < $3
          ORDER BY seq DESC, n DESC LIMIT $4`,
        [instrument, before?.seq ?? null, before?.n ?? null, limit + 1],
      );
    return rows.map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      n: r.n,
      takerSide: r.taker_side,
      priceTicks: Number(r.price_ticks),
      lots: Number(r.quantity_lots),
      createdAt: r.created_at,
    }));
  }

  /** The price of the last trade at or before `seq`. */
  async lastPrice(instrument: string, seq: number): Promise<number | undefined> {
    const [row]: Array<{ price_ticks: string }> = await this.dataSource.query(
      `SELECT price_ticks FROM fills WHERE instrument = $1 AND seq <= $2 ORDER BY seq DESC, ${FILL_ORDER} DESC LIMIT 1`,
      [instrument, seq],
    );
    return row && Number(row.price_ticks);
  }

  /** Trades since `since`, up to and including book sequence `seq`, aggregated. */
  async statsSince(instrument: string, since: Date, seq: number): Promise<TradeStats> {
    const [row]: StatsRow[] = await this.dataSource.query(
      `SELECT ${STATS_COLUMNS}
         FROM (SELECT *, ${FILL_ORDER} AS n FROM fills
                WHERE instrument = $1 AND seq > ${SEQ_BEFORE('$1', '$2')} AND seq <= $3 AND created_at >= $2) f`,
      [instrument, since.toISOString(), seq],
    );
    return toStats(row);
  }

  /** OHLCV buckets of `seconds` aligned on the Unix epoch (UTC), oldest first. */
  async candles(instrument: string, seconds: number, from: Date, to: Date, limit: number): Promise<Array<{ time: Date; stats: Required<TradeStats> }>> {
    const rows: Array<StatsRow & { bucket: Date }> = await this.dataSource.query(
      `SELECT date_bin(make_interval(secs => $2), created_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket, ${STATS_COLUMNS}
         FROM (SELECT *, ${FILL_ORDER} AS n FROM fills
                WHERE instrument = $1 AND seq > ${SEQ_BEFORE('$1', '$3')} AND created_at >= $3 AND created_at < $4) f
        GROUP BY bucket ORDER BY bucket LIMIT $5`,
      [instrument, seconds, from.toISOString(), to.toISOString(), limit],
    );
    return rows.map((r) => ({ time: r.bucket, stats: toStats(r) as Required<TradeStats> }));
  }

  /**
   * Volume-weighted average price in ticks (rounded half up to a whole tick) of the instrument's
   * trades in each `seconds`-long bucket since `since`, newest last; buckets without trades are absent.
   */
  async vwapBuckets(instrument: string, seconds: number, since: Date): Promise<Array<{ time: Date; vwapTicks: number; lots: string }>> {
    const rows: Array<{ bucket: Date; vwap: string; lots: string }> = await this.dataSource.query(
      `SELECT date_bin(make_interval(secs => $2), created_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
              round(sum(price_ticks * quantity_lots)::numeric / sum(quantity_lots))::text AS vwap, sum(quantity_lots)::text AS lots
         FROM fills WHERE instrument = $1 AND created_at >= $3
        GROUP BY 1 ORDER BY 1`,
      [instrument, seconds, since],
    );
    return rows.map((r) => ({ time: r.bucket, vwapTicks: Number(r.vwap), lots: r.lots }));
  }

  /** The instrument's volume-weighted average price in ticks since `since`, or its last trade's price. */
  indexPrice(instrument: string, since: Date): Promise<SpotIndexPrice | undefined> {
    return spotIndexPrice(this.dataSource, instrument, since);
  }
}

function toStats(row: StatsRow): TradeStats {
  const base = { trades: row.trades, lots: BigInt(row.lots), notional: BigInt(row.notional) };
  if (row.open === null || row.high === null || row.low === null || row.close === null) return base;
  return { ...base, prices: { open: Number(row.open), high: Number(row.high), low: Number(row.low), close: Number(row.close) } };
}
