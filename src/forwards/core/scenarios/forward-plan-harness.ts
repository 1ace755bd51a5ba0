// Test support for driving the order path's planner on a forward contract: the contract's terms,
// and the facts its shell reads before each batch (roles, capacity, a mark's inputs, top-ups
// already made), with the book's positions kept in the planner's own BookState.product.
import type { AccountId } from '../../../ledger/core/index.js';
import { type ForwardTerms, type InstrumentSpec, defaultLastTradeAt, instrumentSymbol, parseDeliveryPeriod } from '../../../markets/instrument-terms.js';
import type { BookCommand } from '../../../orders/core/book-commands.js';
import type { BatchPlan } from '../../../orders/core/plan-batch.js';
import { accountsFor, CLEARING_ACCOUNT, Harness, INSURANCE_ACCOUNT } from '../../../orders/core/scenarios/harness.js';
import { type ForwardBook, type ForwardCapacity, type ForwardFacts, forwardBook } from '../forward-book.js';
import { FORWARD_COMMANDS, topUpTransferId } from '../forward-commands.js';
import { FORWARD_RULES } from '../forward-rules.js';
import { flatPosition, type Position } from '../positions.js';

/** A weekly contract well after the harness's clock (2026-12-03): 2027-W02, trading until 2027-01-10. */
export const FORWARD_PERIOD = '2027-W02';
export const MODEL_CLASS = 'llama-3.1-70b';

export function forwardTerms(overrides: Partial<ForwardTerms & { status: 'active' | 'halted' }> = {}): InstrumentSpec & ForwardTerms {
  const period = parseDeliveryPeriod(FORWARD_PERIOD);
  if (!period.ok) throw new Error(period.reason);
  return {
    kind: 'forward',
    symbol: instrumentSymbol(MODEL_CLASS, FORWARD_PERIOD),
    modelClassId: MODEL_CLASS,
    tickMicroUsdPerMTok: 1000,
    lotTokens: 1000,
    makerFeeBps: 0,
    takerFeeBps: 10,
    collarBps: 1000,
    bondBps: 1000,
    deliveryPeriod: FORWARD_PERIOD,
    deliveryStart: period.value.start,
    deliveryEnd: period.value.end,
    lastTradeAt: defaultLastTradeAt(period.value.start),
    initialMarginBps: 2000,
    maintenanceMarginBps: 1000,
    status: 'active',
    ...overrides,
  } as InstrumentSpec & ForwardTerms;
}

const max0 = (amount: bigint) => (amount > 0n ? amount : 0n);

export type Role = { readonly provider: boolean; readonly buyer: boolean };

/** Ample capacity: 100 tokens/s is 8.64 M tokens a day, nothing else committed. */
export const AMPLE_CAPACITY: ForwardCapacity = { activeNodes: 1, tokensPerSecond: 100n, committedTokensByDay: new Map() };

export interface ForwardHarnessOptions {
  readonly terms: InstrumentSpec & ForwardTerms;
  /** Each participant's role and opening available cash. */
  readonly participants: Readonly<Record<string, { readonly role: Role; readonly cash: bigint; readonly bond?: bigint }>>;
  readonly insurance: bigint;
}

/** What a mark reads besides the book, set before each batch by the driver. */
export interface MarkInputs {
  readonly recentTrades: ReadonlyArray<{ readonly priceTicks: number; readonly lots: number }>;
  readonly spotIndexTicks?: number;
}

/**
 * One forward contract's book driven through `planBatch` with FORWARD_RULES, batch by batch, its
 * participants' accounts kept as the ledger would (the orders' harness), the facts of each batch
 * read as the forward shell reads them: every participant's role, ample capacity for providers,
 * the top-ups whose transfers were committed before, and, for a batch with a mark, the holders'
 * cash, their bond (all of it free: forwards put nothing on it before expiry), the insurance fund,
 * read once before the batch as the shell reads them.
 */
export class ForwardHarness {
  readonly h: Harness;
  readonly roles: Map<string, Role>;
  /** Every transfer committed so far, by id. */
  readonly committed = new Map<string, bigint>();
  markInputs: MarkInputs = { recentTrades: [] };

  constructor(options: ForwardHarnessOptions) {
    const ids = Object.keys(options.participants);
    this.roles = new Map(ids.map((p) => [p, options.participants[p].role]));
    const accounts = accountsFor(ids);
    const h: Harness = new Harness({
      participants: Object.fromEntries(ids.map((p) => [p, options.participants[p].cash])),
      terms: options.terms,
      rules: FORWARD_RULES,
      capacity: new Map(),
      product: forwardBook(options.terms, [], new Map()),
      productFacts: (commands) => this.facts(commands),
      balances: new Map([...ids.map((p) => [accounts.get(p)!.bond, options.participants[p].bond ?? 0n] as const), [INSURANCE_ACCOUNT, options.insurance]]),
    });
    this.h = h;
  }

  get terms(): InstrumentSpec & ForwardTerms {
    return this.h.terms as InstrumentSpec & ForwardTerms;
  }

  get book(): ForwardBook {
    return this.h.state.product as ForwardBook;
  }

  position(participantId: string): Position {
    return this.book.positions.get(participantId) ?? flatPosition(participantId);
  }

  balance(participantId: string, kind: 'available' | 'held' | 'escrow' | 'bond' | 'margin'): bigint {
    return this.h.balance(this.h.accounts.get(participantId)![kind]);
  }

  run(commands: readonly BookCommand[]): BatchPlan {
    const plan = this.h.run(commands);
    for (const t of plan.transfers) this.committed.set(t.id, t.amount!);
    return plan;
  }

  /** What the forward shell reads for a batch (ForwardProduct.facts, MarkFactsReader.read). */
  facts(commands: readonly BookCommand[]): ForwardFacts {
    const h = this.h;
    const capacity = new Map<string, ForwardCapacity>();
    for (const [p, role] of this.roles) if (role.provider) capacity.set(p, AMPLE_CAPACITY);
    const topUpsMade = new Map<string, bigint>();
    for (const c of commands) {
      if (c.kind !== 'product' || c.name !== FORWARD_COMMANDS.topUp) continue;
      const id = topUpTransferId(String(c.payload.key));
      const made = this.committed.get(id);
      if (made !== undefined) topUpsMade.set(id, made);
    }
    const marks = commands.some((c) => c.kind === 'product' && c.name !== FORWARD_COMMANDS.topUp);
    if (!marks) return { roles: this.roles, capacity, topUpsMade };
    const holders = [...this.book.positions.keys()];
    const spendable = new Map<AccountId, bigint>(holders.map((p) => [h.accounts.get(p)!.available, this.balance(p, 'available')]));
    return {
      roles: this.roles,
      capacity,
      topUpsMade,
      spendable,
      mark: {
        ...this.markInputs,
        // As MarkFactsReader reads them: never below zero (the ledger keeps them so; a bug found here may not).
        freeBond: new Map(holders.map((p) => [p, max0(this.balance(p, 'bond'))])),
        spendable,
        insurance: max0(h.balance(INSURANCE_ACCOUNT)),
        system: { insurance: INSURANCE_ACCOUNT, clearing: CLEARING_ACCOUNT },
      },
    };
  }
}
