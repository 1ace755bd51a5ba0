import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Repairs what forwards traded under the interim rules left in the ledger (issue 11, part 7;
 * docs/forwards.md, "Repairing forwards traded before 0.4.0").
 *
 * Until 0.4.0 a forward traded like spot without deliveries: a buy held `notional + max fee` on
 * `held` and each fill moved its notional to the buyer's `escrow` (`fill:<fillId>:escrow`); a sell
 * held a 10 % bond (of notional at its limit, a fixed rate) on `bond` for all its lots and kept
 * the filled part on the order; the seller's fee was recorded on the fill but never charged. With
 * no delivery to release them, escrow and bonds were stranded. From 0.4.0 a forward position is
 * backed by margin (`forward_positions`, the `margin` account). For every forward instrument:
 *
 *  1. open orders are cancelled (`forward_rules_changed`); a buy's hold goes held → available,
 *     a sell's bond for its open lots bond → available;
 *  2. a sell's bond kept for filled lots (its hold less the open part's bond; a closed order's
 *     whole hold) goes bond → margin: it backs the provider's short; every repaired order holds 0;
 *  3. each fill's notional goes from the buyer's escrow → margin: it backs the buyer's long;
 *  4. each fill's seller fee is charged margin → fees, from what steps 2-3 put on the seller's
 *     margin for that contract, in trade order; what that cannot cover is not charged (a NOTICE
 *     names it): the ledger is never overdrawn;
 *  5. one `forward_positions` row per contract and participant, rebuilt from the fills (average
 *     cost, as `applyTrade` keeps it) with the margin steps 2-4 put there.
 *
 * Every movement is a posted ledger transfer (code `forward-repair`, id `repair-forward:<orderId>:hold`
 * / `:margin` or `repair-forward:<fillId>:escrow` / `:seller-fee`, ref the order or fill id) with
 * the accounts' totals updated to match, so the ledger audit stays sound; a CHECK constraint
 * refuses any overdraft and fails the whole migration.
 *
 * A fill counts as interim when the interim rules' escrow transfer `fill:<fillId>:escrow` exists
 * (fills under the new rules move no notional) and it has not been repaired yet (no
 * `repair-forward:<fillId>:escrow`); an order needs repair while it is open or holds anything. So
 * running this again, or on a database without forward orders or fills, changes nothing. It runs
 * before forwards trade under the new rules: a position it would write that already exists stops it
 * (an exception), as would an overdraft. All of it is one DO block: one statement, all or nothing,
 * inside the migration's transaction or without one.
 *
 * Plain SQL on purpose: a migration must not change when the code in src/ does.
 */
export class RepairInterimForwards1796300000400 implements MigrationInterface {
  name = 'RepairInterimForwards1796300000400';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(REPAIR);
  }

  /**
   * Not reversible. The repair released holds to available cash (which may have been withdrawn or
   * spent since), charged fees, and moved escrow and bonds to margin that the new rules have since
   * marked, settled and released. Putting it back would need the interim rules, which no longer
   * exist in the code, and could overdraw accounts; reverting the migrations before it would leave
   * money on margin accounts that the older code does not know. Restore a backup taken before the
   * upgrade instead.
   */
  async down(): Promise<void> {
    throw new Error(
      'RepairInterimForwards1796300000400 cannot be undone: it moved money in the ledger (released holds, charged seller fees, ' +
        'moved escrow and bonds to margin) that later activity may have spent. Restore a database backup taken before 0.4.0 instead.',
    );
  }
}

/** The interim rules' bond on a forward sell, in bps of notional at the order's limit (not an instrument term). */
const INTERIM_BOND_BPS = 1000;

const REPAIR = `
DO $repair$
DECLARE
  uncovered record;
  repaired_orders bigint;
  repaired_fills bigint;
BEGIN
  -- Every planned movement; margin_delta is what it adds to (or takes from) the participant's
  -- margin on that contract.
  CREATE TEMP TABLE forward_repair_moves (
    id text PRIMARY KEY,
    debit_account_id bigint NOT NULL,
    credit_account_id bigint NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    ref text NOT NULL,
    instrument text NOT NULL,
    participant_id uuid NOT NULL,
    margin_delta bigint NOT NULL
  );

  -- Steps 1-2: forward orders still open or holding anything. A buy releases its whole hold; a sell
  -- releases the bond of its open lots (at the interim rate, rounded up as it was held) and moves
  -- the rest, the bond kept for its filled lots, to margin.
  CREATE TEMP TABLE forward_repair_orders AS
  SELECT o.id, o.participant_id, o.instrument, o.side, o.hold_micros AS hold,
         CASE WHEN o.side = 'buy' THEN o.hold_micros
              WHEN o.status <> 'open' THEN 0
              ELSE least(o.hold_micros,
                         div(o.price_ticks::numeric * (o.quantity_lots - o.filled_lots)
                               * (i.tick_micro_usd_per_mtok * i.lot_tokens / 1000000) * ${INTERIM_BOND_BPS} + 9999, 10000)::bigint)
         END AS released
    FROM orders o
    JOIN instruments i ON i.symbol = o.instrument AND i.kind = 'forward'
   WHERE o.status = 'open' OR o.hold_micros > 0;

  INSERT INTO forward_repair_moves (id, debit_account_id, credit_account_id, amount, ref, instrument, participant_id, margin_delta)
  SELECT 'repair-forward:' || r.id || ':hold', pot.id, available.id, r.released, r.id::text, r.instrument, r.participant_id, 0
    FROM forward_repair_orders r
    LEFT JOIN accounts pot ON pot.participant_id = r.participant_id AND pot.kind = CASE WHEN r.side = 'buy' THEN 'held' ELSE 'bond' END
    LEFT JOIN accounts available ON available.participant_id = r.participant_id AND available.kind = 'available'
   WHERE r.released > 0
  UNION ALL
  SELECT 'repair-forward:' || r.id || ':margin', bond.id, margin.id, r.hold - r.released, r.id::text, r.instrument, r.participant_id,
         r.hold - r.released
    FROM forward_repair_orders r
    LEFT JOIN accounts bond ON bond.participant_id = r.participant_id AND bond.kind = 'bond'
    LEFT JOIN accounts margin ON margin.participant_id = r.participant_id AND margin.kind = 'margin'
   WHERE r.side = 'sell' AND r.hold > r.released;

  UPDATE orders o
     SET status = CASE WHEN o.status = 'open' THEN 'cancelled' ELSE o.status END,
         close_reason = CASE WHEN o.status = 'open' THEN 'forward_rules_changed' ELSE o.close_reason END,
         hold_micros = 0,
         updated_at = now()
    FROM forward_repair_orders r
   WHERE o.id = r.id;
  GET DIAGNOSTICS repaired_orders = ROW_COUNT;

  -- Step 3: interim fills not repaired yet; each one's notional, in the buyer's escrow since the
  -- trade, goes to the buyer's margin.
  CREATE TEMP TABLE forward_repair_fills AS
  SELECT f.id, f.instrument, f.seq, f.buyer_id, f.seller_id, f.price_ticks, f.quantity_lots, f.notional_micros, f.seller_fee_micros
    FROM fills f
    JOIN instruments i ON i.symbol = f.instrument AND i.kind = 'forward'
   WHERE EXISTS (SELECT 1 FROM transfers t WHERE t.id = 'fill:' || f.id || ':escrow')
     AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.id = 'repair-forward:' || f.id || ':escrow');
  repaired_fills := (SELECT count(*) FROM forward_repair_fills);

  INSERT INTO forward_repair_moves (id, debit_account_id, credit_account_id, amount, ref, instrument, participant_id, margin_delta)
  SELECT 'repair-forward:' || f.id || ':escrow', escrow.id, margin.id, f.notional_micros, f.id, f.instrument, f.buyer_id, f.notional_micros
    FROM forward_repair_fills f
    LEFT JOIN accounts escrow ON escrow.participant_id = f.buyer_id AND escrow.kind = 'escrow'
    LEFT JOIN accounts margin ON margin.participant_id = f.buyer_id AND margin.kind = 'margin'
   WHERE f.notional_micros > 0;

  -- Step 4: seller fees, in trade order, out of what steps 2-3 put on the seller's margin for that
  -- contract; a fee (or the part of it) that margin cannot cover is not charged.
  CREATE TEMP TABLE forward_repair_fees AS
  WITH cover AS (
    SELECT instrument, participant_id, sum(margin_delta) AS margin FROM forward_repair_moves GROUP BY instrument, participant_id
  ), due AS (
    SELECT f.id, f.instrument, f.seller_id, f.seller_fee_micros AS fee, coalesce(c.margin, 0) AS margin,
           sum(f.seller_fee_micros) OVER (PARTITION BY f.instrument, f.seller_id ORDER BY f.seq, f.id ROWS UNBOUNDED PRECEDING) AS due_through
      FROM forward_repair_fills f
      LEFT JOIN cover c ON c.instrument = f.instrument AND c.participant_id = f.seller_id
     WHERE f.seller_fee_micros > 0
  )
  SELECT id, instrument, seller_id, fee, greatest(0, least(fee, margin - (due_through - fee)))::bigint AS charged FROM due;

  INSERT INTO forward_repair_moves (id, debit_account_id, credit_account_id, amount, ref, instrument, participant_id, margin_delta)
  SELECT 'repair-forward:' || c.id || ':seller-fee', margin.id, fees.id, c.charged, c.id, c.instrument, c.seller_id, -c.charged
    FROM forward_repair_fees c
    LEFT JOIN accounts margin ON margin.participant_id = c.seller_id AND margin.kind = 'margin'
    LEFT JOIN accounts fees ON fees.participant_id IS NULL AND fees.kind = 'fees'
   WHERE c.charged > 0;

  -- What margin could not cover is logged per contract and seller (per fill: the fill's seller fee
  -- less its repair-forward:<fillId>:seller-fee transfer).
  FOR uncovered IN
    SELECT instrument, seller_id, count(*) AS fills, sum(fee) AS fee, sum(charged) AS charged
      FROM forward_repair_fees GROUP BY instrument, seller_id HAVING sum(charged) < sum(fee) ORDER BY instrument, seller_id
  LOOP
    RAISE NOTICE 'forward repair: on %, % owed % micro-USD of seller fees (fills: %); its margin on the contract covered %, % micro-USD left uncharged',
      uncovered.instrument, uncovered.seller_id, uncovered.fee, uncovered.fills, uncovered.charged, uncovered.fee - uncovered.charged;
  END LOOP;

  -- Step 5: positions. Each participant's side of each fill, in trade order, folded as applyTrade
  -- does (src/forwards/core/positions.ts): lots in the position's direction add at their price
  -- (cost) and notional (margin basis); lots against it close at the average, pro rata, rounded
  -- down; lots beyond closing it open the other way. With one direction per participant (as the
  -- interim rules traded: providers sold, buyers bought) it is plain sums.
  CREATE TEMP TABLE forward_repair_legs AS
  SELECT instrument, participant_id, seq, signed, price_ticks, notional,
         row_number() OVER (PARTITION BY instrument, participant_id ORDER BY seq, fill_id) AS n
    FROM (SELECT instrument, buyer_id AS participant_id, id AS fill_id, seq, quantity_lots AS signed, price_ticks, notional_micros AS notional
            FROM forward_repair_fills
          UNION ALL
          SELECT instrument, seller_id, id, seq, -quantity_lots, price_ticks, notional_micros
            FROM forward_repair_fills) AS sides;
  CREATE INDEX ON forward_repair_legs (instrument, participant_id, n);
  ANALYZE forward_repair_legs;

  IF EXISTS (
    SELECT 1 FROM forward_positions p
     WHERE EXISTS (SELECT 1 FROM forward_repair_legs l WHERE l.instrument = p.instrument AND l.participant_id = p.participant_id)
        OR EXISTS (SELECT 1 FROM forward_repair_moves m
                    WHERE m.instrument = p.instrument AND m.participant_id = p.participant_id AND m.margin_delta <> 0)
  ) THEN
    RAISE EXCEPTION 'forward repair: forward_positions already has a position that interim fills or bonds would rebuild: the repair must run before forwards trade under the new rules';
  END IF;

  -- Step 6: the movements as posted transfers, and the accounts' running totals to match (one
  -- update per account). A CHECK constraint refuses an overdrawn account: nothing is applied then.
  WITH inserted AS (
    INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, pending_id, flags, code, ref)
    SELECT id, debit_account_id, credit_account_id, amount, NULL, 0, 'forward-repair', ref FROM forward_repair_moves ORDER BY id
    RETURNING debit_account_id, credit_account_id, amount
  ), legs AS (
    SELECT debit_account_id AS id, amount AS debits, 0::bigint AS credits FROM inserted
    UNION ALL
    SELECT credit_account_id, 0::bigint, amount FROM inserted
  )
  UPDATE accounts a
     SET debits_posted = a.debits_posted + v.debits,
         credits_posted = a.credits_posted + v.credits
    FROM (SELECT id, sum(debits)::bigint AS debits, sum(credits)::bigint AS credits FROM legs GROUP BY id) v
   WHERE a.id = v.id;

  INSERT INTO forward_positions (instrument, participant_id, lots, cost_ticks, margin_basis_micros, opened_seq, margin_micros,
                                 variation_micros, in_call, lots_at_mark, traded_ticks_since_mark)
  WITH RECURSIVE walk AS (
    SELECT instrument, participant_id, 0::bigint AS n, 0::bigint AS lots, 0::numeric AS cost, 0::numeric AS basis,
           0::bigint AS opened, 0::numeric AS traded
      FROM forward_repair_legs WHERE n = 1
    UNION ALL
    SELECT w.instrument, w.participant_id, l.n, w.lots + l.signed,
           CASE WHEN s.same THEN w.cost + l.price_ticks::numeric * s.q
                ELSE div(w.cost * (s.size - s.closing), s.size) + l.price_ticks::numeric * (s.q - s.closing) END,
           CASE WHEN s.same THEN w.basis + l.notional
                ELSE div(w.basis * (s.size - s.closing), s.size) + div(l.notional::numeric * (s.q - s.closing), s.q) END,
           CASE WHEN s.same THEN CASE WHEN w.lots = 0 THEN l.seq ELSE w.opened END
                WHEN s.q > s.closing THEN l.seq
                WHEN s.size = s.closing THEN 0
                ELSE w.opened END,
           w.traded + l.price_ticks::numeric * l.signed
      FROM walk w
      JOIN forward_repair_legs l ON l.instrument = w.instrument AND l.participant_id = w.participant_id AND l.n = w.n + 1
     CROSS JOIN LATERAL (
       SELECT w.lots = 0 OR (w.lots > 0) = (l.signed > 0) AS same, abs(l.signed) AS q, abs(w.lots) AS size,
              CASE WHEN w.lots = 0 OR (w.lots > 0) = (l.signed > 0) THEN 0 ELSE least(abs(l.signed), abs(w.lots)) END AS closing
     ) s
  ), folded AS (
    SELECT DISTINCT ON (instrument, participant_id) * FROM walk ORDER BY instrument, participant_id, n DESC
  ), margin AS (
    SELECT instrument, participant_id, sum(margin_delta)::bigint AS margin
      FROM forward_repair_moves WHERE margin_delta <> 0 GROUP BY instrument, participant_id
  )
  SELECT coalesce(f.instrument, m.instrument), coalesce(f.participant_id, m.participant_id), coalesce(f.lots, 0), coalesce(f.cost, 0),
         coalesce(f.basis, 0)::bigint, coalesce(f.opened, 0), coalesce(m.margin, 0), 0, false, 0, coalesce(f.traded, 0)
    FROM folded f
    FULL JOIN margin m ON m.instrument = f.instrument AND m.participant_id = f.participant_id
  ON CONFLICT (instrument, participant_id) DO NOTHING;

  IF repaired_orders > 0 OR repaired_fills > 0 THEN
    RAISE NOTICE 'forward repair: % orders and % fills repaired, % transfers posted',
      repaired_orders, repaired_fills, (SELECT count(*) FROM forward_repair_moves);
  END IF;

  DROP TABLE forward_repair_moves, forward_repair_orders, forward_repair_fills, forward_repair_fees, forward_repair_legs;
END
$repair$`;
