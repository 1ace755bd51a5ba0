import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { insertDeliveriesSql } from '../deliveries/delivery-sql.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { type ForwardTerms, instrumentSymbol } from '../markets/instrument-terms.js';
import { MarketsService } from '../markets/markets.service.js';
import { spotIndexPrice } from '../markets/spot-index.js';
import type { ProductCommand } from '../orders/core/position-keeper.js';
import { literal } from '../platform/database/sql-literals.js';
import { recordEscrowSql } from '../settlement/settlement-sql.js';
import type { ExpiryOutcome } from './core/expiry.js';
import type { ForwardBook, ForwardChanges, MarkFacts } from './core/forward-book.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The instant a day's mark is taken: 00:00 UTC after it. */
export const markInstant = (day: string): Date => new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS);

/**
 * Reads what a daily mark or an expiry needs besides the book (market-rules §6): the contract's
 * trades in the hour before the mark's instant, the model class's spot index on the contract's
 * tick, each position holder's spendable cash and free bond (bond not backing an open delivery or
 * an open spot sell), the insurance fund's balance, and the accounts money moves through. Also
 * writes what an expiry produces: its deliveries and their escrow records, by the modules that own them.
 */
@Injectable()
export class MarkFactsReader {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
    private readonly markets: MarketsService,
  ) {}

  async read(terms: ForwardTerms, book: ForwardBook, command: ProductCommand, now: number): Promise<MarkFacts> {
    const at = markInstant(String(command.payload.day));
    const holders = [...book.positions.keys()];
    const accounts = await this.ledger.accountsOfMany(holders);
    const [trades, spotIndexTicks, funds, insurance, clearing, spendable] = await Promise.all([
      this.dataSource.query(
        `SELECT price_ticks::int AS "priceTicks", quantity_lots::int AS lots FROM fills WHERE instrument = $1 AND created_at >= $2 AND created_at < $3`,
        [terms.symbol, new Date(at.getTime() - HOUR_MS), at],
      ) as Promise<Array<{ priceTicks: number; lots: number }>>,
      this.spotIndex(terms, new Date(Math.min(now, at.getTime()) - HOUR_MS)),
      this.funds(holders.map((id) => [id, accounts.get(id)!.available, accounts.get(id)!.bond] as const)),
      this.ledger.systemAccount('insurance'),
      this.ledger.systemAccount('clearing'),
      this.ledger.spendable(holders.map((id) => accounts.get(id)!.available)),
    ]);
    const [balance] = (await this.ledger.spendable([insurance])).values();
    return {
      recentTrades: trades,
      ...(spotIndexTicks !== undefined ? { spotIndexTicks } : {}),
      freeBond: funds,
      spendable,
      insurance: balance ?? 0n,
      system: { insurance, clearing },
    };
  }

  /** Deliveries an expiry created, with their escrow records, in the expiry's own commit. */
  expirySql(terms: ForwardTerms, changes: ForwardChanges): string[] {
    const { deliveries, settlementDay } = changes.expiry as ExpiryOutcome;
    return [
      // The final mark may have been taken earlier as a daily one: it is the settlement price now.
      `UPDATE forward_marks SET final = true WHERE instrument = ${literal(terms.symbol)} AND day = ${literal(settlementDay)}`,
      insertDeliveriesSql({ ...terms, spotWindowSeconds: DAY_MS / 1000 }, deliveries), recordEscrowSql(deliveries)].filter((s): s is string => s !== undefined);
  }

  private async spotIndex(terms: ForwardTerms, since: Date): Promise<number | undefined> {
    const spot = await this.markets.instrument(instrumentSymbol(terms.modelClassId));
    if (!spot) return undefined;
    const index = await spotIndexPrice(this.dataSource, spot.symbol, since);
    if (!index) return undefined;
    const tick = BigInt(terms.tickMicroUsdPerMTok);
    return Number((BigInt(index.priceTicks) * BigInt(spot.tickMicroUsdPerMTok) + tick / 2n) / tick);
  }

  /** Spendable cash, and bond beyond what open deliveries (less penalties paid) and open spot sells hold. */
  private async funds(holders: ReadonlyArray<readonly [string, bigint, bigint]>): Promise<Map<string, bigint>> {
    if (holders.length === 0) return new Map();
    const rows: Array<{ id: string; available: string; bond: string }> = await this.dataSource.query(
      `SELECT h.id, greatest(0, (b.credits_posted - b.debits_posted - b.debits_pending)
                 - coalesce((SELECT sum(bond_micros - penalty_micros) FROM deliveries d WHERE d.provider_id = h.id AND d.status = 'open'), 0)
                 - coalesce((SELECT sum(hold_micros) FROM orders o JOIN instruments i ON i.symbol = o.instrument
                              WHERE o.participant_id = h.id AND o.status = 'open' AND o.side = 'sell' AND i.kind = 'spot'), 0))::text AS bond
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS h(id, available_id, bond_id)
         JOIN accounts b ON b.id = h.bond_id`,
      [holders.map((h) => h[0]), holders.map((h) => String(h[1])), holders.map((h) => String(h[2]))],
    );
    return new Map(rows.map((r) => [r.id, BigInt(r.bond)]));
  }
}
