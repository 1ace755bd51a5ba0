import { arrayLiteral, literal } from '../platform/database/sql-literals.js';
import type { SpotTerms } from '../markets/instrument-terms.js';
import { lotsToTokens } from '../markets/price.js';

/**
 * One spot fill as a new delivery needs it: what the order path records for a trade. Declared here
 * so deliveries depend on no order internals; the order writer's fill records fit it as they are.
 */
export interface NewDeliveryFill {
  readonly id: string;
  readonly buyerId: string;
  readonly sellerId: string;
  readonly lots: number;
  readonly priceTicks: number;
  readonly notional: bigint;
  readonly buyerFee: bigint;
  readonly sellerFee: bigint;
  /** The seller's bond that now backs the delivery. */
  readonly bond: bigint;
  readonly createdAt: Date;
}

/**
 * What a delivery takes from its instrument: spot's terms, or a forward's with a window of one day
 * (each delivery a forward expires into is one UTC day of its period, starting at `createdAt`).
 */
export type DeliveryTerms = Pick<SpotTerms, 'symbol' | 'modelClassId' | 'tickMicroUsdPerMTok' | 'lotTokens' | 'spotWindowSeconds'>;

/**
 * The statement that turns a group commit's spot fills into deliveries, in the fills' own
 * transaction (market-rules §5): one `deliveries` row per fill, its window starting at the fill.
 * Settlement records the fills' escrow steps with its own statement (`recordEscrowSql` in
 * src/settlement/settlement-sql.ts), run after this one in the same script.
 */
export function insertDeliveriesSql(terms: DeliveryTerms, fills: readonly NewDeliveryFill[]): string | undefined {
  if (fills.length === 0) return undefined;
  const column = (type: string, f: (x: NewDeliveryFill) => string | number) => arrayLiteral(fills.map(f), type);
  return `INSERT INTO deliveries (fill_id, instrument, model_class_id, buyer_id, provider_id, quantity_tokens, price_ticks,
                             notional_micros, seller_fee_micros, bond_micros, window_start, window_end)
     SELECT id, ${literal(terms.symbol)}, ${literal(terms.modelClassId)}, buyer_id, provider_id, tokens, price_ticks, notional, seller_fee, bond,
            at, at + make_interval(secs => ${terms.spotWindowSeconds})
       FROM unnest(${column('text', (f) => f.id)}, ${column('uuid', (f) => f.buyerId)}, ${column('uuid', (f) => f.sellerId)},
                   ${column('bigint', (f) => lotsToTokens(f.lots, terms))}, ${column('bigint', (f) => f.priceTicks)},
                   ${column('bigint', (f) => String(f.notional))}, ${column('bigint', (f) => String(f.sellerFee))},
                   ${column('bigint', (f) => String(f.bond))}, ${column('timestamptz', (f) => f.createdAt.toISOString())})
         AS f(id, buyer_id, provider_id, tokens, price_ticks, notional, seller_fee, bond, at)`;
}
