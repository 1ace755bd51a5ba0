import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { AccountId } from '../ledger/core/index.js';
import { insertDeliveriesSql } from '../deliveries/delivery-sql.js';
import type { InstrumentKind, InstrumentSpec, InstrumentTerms, SpotTerms } from '../markets/instrument-terms.js';
import { recordEscrowSql } from '../settlement/settlement-sql.js';
import type { BookCommand } from './core/book-commands.js';
import type { BatchPlan, BookState } from './core/plan-batch.js';
import { type ProductRules, SPOT_RULES } from './core/product-rules.js';

/**
 * A product on the order path: its pure rules (`ProductRules`), and what its shell reads and
 * writes around each batch of a book. The order path knows products only through this seam: spot
 * is built in; forwards register theirs from their own module, so orders never imports them.
 */
export interface ProductShell {
  readonly rules: ProductRules;
  /** What the product keeps across batches, read when a book is (re)loaded (forwards: positions). */
  load(dataSource: DataSource, spec: InstrumentSpec, state: BookState): Promise<unknown>;
  /** Participants the product may move money for besides the book's order owners (forwards: position holders). */
  participants(kept: unknown): string[];
  /** What the product needs for one batch (forwards: roles, capacity, mark inputs), read before planning. */
  facts(state: BookState, spec: InstrumentSpec, commands: readonly BookCommand[], now: number): Promise<ProductBatchFacts | undefined>;
  /** The statements that commit the plan's product effects, in the batch's transaction, after the book's. */
  commitSql(terms: InstrumentTerms, plan: BatchPlan): string[];
}

/** A product's facts for a batch: opaque to the order path, but for accounts it may spend from beyond the callers'. */
export interface ProductBatchFacts {
  /** Spendable balances of accounts a product command may debit (forwards: position holders' cash at a mark). */
  readonly spendable?: ReadonlyMap<AccountId, bigint>;
}

/** Spot: every fill is a delivery, committed with its escrow record by the modules that own them. */
export const SPOT_PRODUCT: ProductShell = {
  rules: SPOT_RULES,
  load: () => Promise.resolve(undefined),
  participants: () => [],
  facts: () => Promise.resolve(undefined),
  commitSql: (terms, plan) =>
    [insertDeliveriesSql(terms as SpotTerms, plan.deliveries), recordEscrowSql(plan.deliveries)].filter((sql): sql is string => sql !== undefined),
};

/** The products the order path can run, by instrument kind. */
@Injectable()
export class ProductCatalog {
  private readonly shells = new Map<InstrumentKind, ProductShell>([['spot', SPOT_PRODUCT]]);

  /** Called by a product's module when it starts (forwards). */
  register(shell: ProductShell): void {
    this.shells.set(shell.rules.kind, shell);
  }

  shellFor(kind: InstrumentKind): ProductShell {
    const shell = this.shells.get(kind);
    if (!shell) throw new Error(`no product is registered for ${kind} instruments`);
    return shell;
  }
}
