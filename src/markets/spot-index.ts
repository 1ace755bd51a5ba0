import type { DataSource } from 'typeorm';

export interface SpotIndexPrice {
  readonly priceTicks: number;
  readonly method: 'vwap' | 'last_trade';
}

/**
 * The spot index of a model class, read from its spot instrument's fills: the volume-weighted
 * average price since `since` (rounded to the tick), else the last trade's price, else nothing.
 * Market data serves it; an order book that has never traded uses it as its collar reference.
 */
export async function spotIndexPrice(dataSource: DataSource, spotSymbol: string, since: Date): Promise<SpotIndexPrice | undefined> {
  const [row]: Array<{ vwap: string | null; last: string | null }> = await dataSource.query(
    `SELECT (SELECT round(sum(price_ticks * quantity_lots)::numeric / nullif(sum(quantity_lots), 0))::text
               FROM fills WHERE instrument = $1 AND created_at >= $2) AS vwap,
            (SELECT price_ticks::text FROM fills WHERE instrument = $1 ORDER BY seq DESC, id DESC LIMIT 1) AS last`,
    [spotSymbol, since],
  );
  if (row.vwap !== null) return { priceTicks: Number(row.vwap), method: 'vwap' };
  if (row.last !== null) return { priceTicks: Number(row.last), method: 'last_trade' };
  return undefined;
}
