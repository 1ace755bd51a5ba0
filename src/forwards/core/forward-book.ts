import type { ForwardTerms } from '../../markets/instrument-terms.js';
import { initialRequirement } from './margin.js';
import type { Position } from './positions.js';

/** A participant's open orders on one contract, per side: notional at their limits, and lots. */
export interface OpenOrders {
  readonly buys: bigint;
  readonly sells: bigint;
  readonly buyLots: number;
  readonly sellLots: number;
}

export const NO_OPEN_ORDERS: OpenOrders = { buys: 0n, sells: 0n, buyLots: 0, sellLots: 0 };

/** The last daily mark of a contract: its UTC day and price. */
export interface LastMark {
  readonly day: string;
  readonly priceTicks: number;
}

/**
 * What a forward contract's writer keeps across batches, beside the orders: positions, open
 * orders per participant and side, each participant's initial requirement as of its last change
 * (the "before" of the next), and the last mark. Rebuilt from PostgreSQL with the book.
 */
export interface ForwardBook {
  readonly positions: Map<string, Position>;
  readonly open: Map<string, OpenOrders>;
  readonly requirements: Map<string, bigint>;
  lastMark?: LastMark;
}

/** A provider's nodes for the contract's model class and what it has already committed, per UTC day. */
export interface ForwardCapacity {
  readonly activeNodes: number;
  readonly tokensPerSecond: bigint;
  /** Tokens per UTC day number its other forward shorts, open sells and spot deliveries already take. */
  readonly committedTokensByDay: ReadonlyMap<number, bigint>;
}

/** What the forward shell reads for one batch. */
export interface ForwardFacts {
  /** Cash a mark or expiry may take, beyond the batch's callers' (the order path merges it in). */
  readonly spendable?: ReadonlyMap<bigint, bigint>;
  readonly roles: ReadonlyMap<string, { readonly provider: boolean; readonly buyer: boolean }>;
  /** Capacity of providers who may grow a short in the batch. */
  readonly capacity: ReadonlyMap<string, ForwardCapacity>;
  /** Inputs of a daily mark or expiry in the batch, if there is one. */
  readonly mark?: MarkFacts;
  /** Top-ups of the batch already made (their transfer ids), with their amounts. */
  readonly topUpsMade?: ReadonlyMap<string, bigint>;
}

/** What a mark needs from outside the book: trades of the last hour, the spot index, losers' other funds. */
export interface MarkFacts {
  readonly recentTrades: ReadonlyArray<{ readonly priceTicks: number; readonly lots: number }>;
  readonly spotIndexTicks?: number;
  /** Per position holder: its bond not backing any delivery or order (its cash is the batch's: `spendable`). */
  readonly freeBond: ReadonlyMap<string, bigint>;
  /** Position holders' available accounts and what they could spend before the batch. */
  readonly spendable: ReadonlyMap<bigint, bigint>;
  /** The insurance fund's balance. */
  readonly insurance: bigint;
  /** The exchange's accounts a mark moves money through. */
  readonly system: { readonly insurance: bigint; readonly clearing: bigint };
}

export interface MarkRecord {
  readonly day: string;
  readonly priceTicks: number;
  readonly source: 'trades' | 'mid' | 'previous' | 'index' | 'override';
  readonly previousPriceTicks: number | null;
  /** The final mark: the settlement price at expiry. */
  readonly final: boolean;
  /** What the price was chosen from, and what the mark moved. */
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly at: Date;
}

/** A change of a participant's margin standing (market-rules §6), recorded with the commit that made it. */
export interface CallRecord {
  readonly participantId: string;
  readonly event: 'raised' | 'cured' | 'defaulted' | 'cut';
  readonly equity: bigint;
  readonly requirement: bigint;
  readonly day?: string;
  /** A default's unpaid amount, or a winner's cut. */
  readonly amount?: bigint;
}

/**
 * An admin's mark or expiry, for the audit trail: who and why (from the command), with what it
 * did (from its outcome). Written in the batch's commit, so it exists exactly when the action does.
 */
export interface AuditNote {
  readonly actorId: string;
  readonly action: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** What a batch changed, for the forward shell's statements in the same commit. */
export interface ForwardChanges {
  readonly positions: Position[];
  readonly marks: MarkRecord[];
  readonly calls: CallRecord[];
  readonly audits: AuditNote[];
  expiry: unknown;
}

/** A contract's book state from its positions, open orders and last mark, with every requirement computed. */
export function forwardBook(terms: ForwardTerms, positions: readonly Position[], open: ReadonlyMap<string, OpenOrders>, lastMark?: LastMark): ForwardBook {
  const book: ForwardBook = { positions: new Map(positions.map((p) => [p.participantId, p])), open: new Map(open), requirements: new Map(), lastMark };
  for (const id of new Set([...book.positions.keys(), ...book.open.keys()])) {
    const orders = book.open.get(id) ?? NO_OPEN_ORDERS;
    const position = book.positions.get(id) ?? { lots: 0, marginBasis: 0n };
    book.requirements.set(id, initialRequirement(terms, { position, openBuys: orders.buys, openSells: orders.sells }));
  }
  return book;
}
