import { arrayLiteral, literal } from '../platform/database/sql-literals.js';
import type { SpotTerms } from '../markets/instrument-terms.js';
import { lotsToTokens } from '../markets/price.js';
import type { FillRecord } from '../orders/batch-money.js';

/**
 * The statement that turns a group commit's spot fills into deliveries, in the fills' own
 * transaction (market-rules §5), and records each fill's escrow step as a settlement: the
 * writer already moved the buyer's notional from its hold to escrow and posted the buyer's fee,
 * under the transfer ids `fill:<id>:escrow` and `fill:<id>:buyer-fee`.
 */
export function createDeliveriesSql(spec: SpotTerms, fills: readonly FillRecord[]): string | undefined {
  if (fills.length === 0) return undefined;
  const column = (type: string, f: (x: FillRecord) => string | number | null) => arrayLiteral(fills.map(f), type);
  return `WITH fill AS (
       SELECT * FROM unnest(${column('text', (f) => f.id)}, ${column('uuid', (f) => f.buyerId)}, ${column('uuid', (f) => f.sellerId)},
                            ${column('bigint', (f) => lotsToTokens(f.lots, spec))}, ${column('bigint', (f) => f.priceTicks)},
                            ${column('bigint', (f) => String(f.notional))}, ${column('bigint', (f) => String(f.buyerFee))},
                            ${column('bigint', (f) => String(f.sellerFee))}, ${column('bigint', (f) => String(f.bond))},
                            ${column('timestamptz', (f) => f.createdAt.toISOString())})
         AS f(id, buyer_id, provider_id, tokens, price_ticks, notional, buyer_fee, seller_fee, bond, at)
     ), delivery AS (
       INSERT INTO deliveries (fill_id, instrument, model_class_id, buyer_id, provider_id, quantity_tokens, price_ticks,
                               notional_micros, seller_fee_micros, bond_micros, window_start, window_end)
       SELECT id, ${literal(spec.symbol)}, ${literal(spec.modelClassId)}, buyer_id, provider_id, tokens, price_ticks, notional, seller_fee, bond,
              at, at + make_interval(secs => ${spec.spotWindowSeconds})
         FROM fill
       RETURNING id, fill_id
     )
     INSERT INTO settlements (key, kind, delivery_id, buyer_id, provider_id, tokens, amounts, transfer_ids, status)
     SELECT 'escrow:' || f.id, 'escrow', d.id, f.buyer_id, f.provider_id, f.tokens,
            jsonb_build_object('escrow', f.notional::text, 'buyerFee', f.buyer_fee::text),
            array_remove(ARRAY['fill:' || f.id || ':escrow', CASE WHEN f.buyer_fee > 0 THEN 'fill:' || f.id || ':buyer-fee' END], NULL),
            'done'
       FROM fill f JOIN delivery d ON d.fill_id = f.id`;
}
