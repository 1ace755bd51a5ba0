import type { EntityManager } from 'typeorm';
import { arrayLiteral } from '../platform/database/sql-literals.js';

/** A spot fill's escrow as settlement records it; the order writer's fill records fit it as they are. */
export interface EscrowFill {
  readonly id: string;
  /** The buyer's notional, moved from its hold to escrow under the transfer `fill:<id>:escrow`. */
  readonly notional: bigint;
  /** Posted under `fill:<id>:buyer-fee` when positive. */
  readonly buyerFee: bigint;
}

/**
 * The statement that records each fill's escrow step as a settlement (kind 'escrow', done), in the
 * fill's own transaction: the order writer already moved the buyer's notional to escrow and posted
 * the buyer's fee. It finds each fill's delivery by `fill_id`, so it runs after the deliveries'
 * insert (`insertDeliveriesSql`) in the same script; the delivery gives the parties and tokens.
 */
export function recordEscrowSql(fills: readonly EscrowFill[]): string | undefined {
  if (fills.length === 0) return undefined;
  const ids = fills.map((f) => f.id);
  const notionals = fills.map((f) => String(f.notional));
  const buyerFees = fills.map((f) => String(f.buyerFee));
  return `INSERT INTO settlements (key, kind, delivery_id, buyer_id, provider_id, tokens, amounts, transfer_ids, status)
     SELECT 'escrow:' || f.id, 'escrow', d.id, d.buyer_id, d.provider_id, d.quantity_tokens,
            jsonb_build_object('escrow', f.notional::text, 'buyerFee', f.buyer_fee::text),
            array_remove(ARRAY['fill:' || f.id || ':escrow', CASE WHEN f.buyer_fee > 0 THEN 'fill:' || f.id || ':buyer-fee' END], NULL),
            'done'
       FROM unnest(${arrayLiteral(ids, 'text')}, ${arrayLiteral(notionals, 'bigint')}, ${arrayLiteral(buyerFees, 'bigint')}) AS f(id, notional, buyer_fee)
       JOIN deliveries d ON d.fill_id = f.id`;
}

/** One payout or close step as settlement records it. */
export interface SettlementRecord {
  readonly key: string;
  readonly kind: 'payout' | 'close';
  readonly deliveryId: string;
  readonly buyerId: string;
  readonly providerId: string;
  readonly tokens: bigint;
  readonly amounts: Readonly<Record<string, bigint>>;
  readonly transferIds: readonly string[];
}

/** How the steps went: done, or refused by the ledger (the planned transfers, none of them made). */
export type StepOutcome = { readonly status: 'done' } | { readonly status: 'failed'; readonly error: string };

/**
 * Records the steps in one statement; returns each record's id by its key. A delivery has at most
 * one failed record of a kind: a step of that kind, run again (by an admin's retry, or failing
 * again), rewrites that record, with what it settled this time and one more attempt, rather than
 * adding another. A failed record made no transfers, so its key and amounts may change.
 */
export async function insertSettlements(manager: EntityManager, records: readonly SettlementRecord[], outcome: StepOutcome = { status: 'done' }): Promise<Map<string, string>> {
  if (records.length === 0) return new Map();
  const inserted: Array<{ id: string; key: string }> = await manager.query(
    `WITH s AS (
       SELECT k, kind, delivery_id, buyer_id, provider_id, tokens, amounts, ARRAY(SELECT jsonb_array_elements_text(ids)) AS transfer_ids
         FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::bigint[], $7::jsonb[], $8::jsonb[])
           AS s(k, kind, delivery_id, buyer_id, provider_id, tokens, amounts, ids)
     ), again AS (
       UPDATE settlements f
          SET key = s.k, tokens = s.tokens, amounts = s.amounts, transfer_ids = s.transfer_ids, status = $9::text, attempts = f.attempts + 1, error = $10::text
         FROM s WHERE f.delivery_id = s.delivery_id AND f.kind = s.kind AND f.status = 'failed'
       RETURNING f.id::text, f.key
     ), fresh AS (
       INSERT INTO settlements (key, kind, delivery_id, buyer_id, provider_id, tokens, amounts, transfer_ids, status, error)
       SELECT k, kind, delivery_id, buyer_id, provider_id, tokens, amounts, transfer_ids, $9::text, $10::text FROM s
        WHERE NOT EXISTS (SELECT 1 FROM settlements f WHERE f.delivery_id = s.delivery_id AND f.kind = s.kind AND f.status = 'failed')
       RETURNING id::text, key
     )
     SELECT id, key FROM again UNION ALL SELECT id, key FROM fresh`,
    [
      records.map((s) => s.key),
      records.map((s) => s.kind),
      records.map((s) => s.deliveryId),
      records.map((s) => s.buyerId),
      records.map((s) => s.providerId),
      records.map((s) => String(s.tokens)),
      records.map((s) => JSON.stringify(Object.fromEntries(Object.entries(s.amounts).map(([k, v]) => [k, String(v)])))),
      records.map((s) => JSON.stringify(s.transferIds)),
      outcome.status,
      outcome.status === 'failed' ? outcome.error : null,
    ],
  );
  return new Map(inserted.map((r) => [r.key, r.id]));
}

/** Deliveries with a failed step wait for an admin's retry: the sweeps leave them alone (a SQL condition on `d`). */
export const NO_FAILED_STEP = `NOT EXISTS (SELECT 1 FROM settlements f WHERE f.delivery_id = d.id AND f.status = 'failed')`;
