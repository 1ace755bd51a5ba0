import type { EntityManager } from 'typeorm';
import { arrayLiteral } from '../platform/database/sql-literals.js';
import type { DeliveryPosition } from './core/settlement-steps.js';

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

/** One payout, close or dispute-refund step as settlement records it. */
export interface SettlementRecord {
  readonly key: string;
  readonly kind: 'payout' | 'close' | 'dispute';
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

/** A delivery as settlement plans its steps (`DELIVERY_STATE`, read after the delivery is locked). */
export interface DeliveryState {
  id: string;
  status: 'open' | 'closed';
  buyer_id: string;
  provider_id: string;
  model_class_id: string;
  quantity_tokens: string;
  notional_micros: string;
  seller_fee_micros: string;
  bond_micros: string;
  paid_tokens: string;
  disputed_tokens: string;
  refunded_tokens: string;
  penalty_micros: string;
  window_start: Date;
  window_end: Date;
  /** Verified usage not yet paid, and its rows' ids. */
  unpaid_tokens: string;
  unpaid_ids: string[];
}

/** The columns of a `DeliveryState`, from `deliveries d`. */
export const DELIVERY_STATE = `d.id, d.status, d.buyer_id, d.provider_id, d.model_class_id, d.quantity_tokens::text, d.notional_micros::text,
  d.seller_fee_micros::text, d.bond_micros::text, d.paid_tokens::text, d.disputed_tokens::text, d.refunded_tokens::text, d.penalty_micros::text,
  d.window_start, d.window_end,
  coalesce((SELECT sum(u.tokens) FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL), 0)::text AS unpaid_tokens,
  coalesce((SELECT array_agg(u.id) FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL), '{}') AS unpaid_ids`;

export function positionOf(d: DeliveryState): DeliveryPosition {
  return {
    id: d.id,
    terms: { quantity: BigInt(d.quantity_tokens), notional: BigInt(d.notional_micros), sellerFee: BigInt(d.seller_fee_micros), bond: BigInt(d.bond_micros) },
    paidTokens: BigInt(d.paid_tokens),
    disputedTokens: BigInt(d.disputed_tokens),
    // Every penalty before the close is a dispute's (the close's own comes with it, and ends the delivery).
    refunded: { tokens: BigInt(d.refunded_tokens), penalty: BigInt(d.penalty_micros) },
    unpaidTokens: BigInt(d.unpaid_tokens),
    unpaidUsageIds: d.unpaid_ids,
  };
}
