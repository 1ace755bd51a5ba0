// Test support for the planBatch specs: a book state, participants' accounts and an in-memory
// balance map that a batch's transfers are applied to, the way the writer and the ledger would.
import type { AccountId, TransferRequest } from '../../../ledger/core/index.js';
import type { InstrumentSpec, SpotTerms } from '../../../markets/instrument-terms.js';
import { FastOrderBook, type OrderBook, ReferenceOrderBook } from '../../../matching/index.js';
import type { OrderAccounts } from '../batch-money.js';
import { type BookCommand, clientOrderKey } from '../book-commands.js';
import type { ProviderCapacity } from '../capacity.js';
import { type BatchFacts, type BatchPlan, type BookState, planBatch } from '../plan-batch.js';
import { SPOT_RULES, type ProductRules } from '../product-rules.js';
import { LiveOrders } from '../live-orders.js';

export const NOW = Date.UTC(2026, 11, 3);
export const SYMBOL = 'LLAMA-3.1-70B-SPOT';
export const FEES_ACCOUNT: AccountId = 9_000_000n;
/** The exchange's accounts a product's own commands move money through (forwards: a mark's variation margin). */
export const CLEARING_ACCOUNT: AccountId = 9_000_001n;
export const INSURANCE_ACCOUNT: AccountId = 9_000_002n;

/** The accounts a spot scenario checks (margin is the forwards' and stays untouched here). */
export type AccountKind = Exclude<keyof OrderAccounts, 'margin'>;
export const ACCOUNT_KINDS: readonly AccountKind[] = ['available', 'held', 'escrow', 'bond'];
export type Balances = Record<AccountKind, bigint>;

export function spotTerms(overrides: Partial<SpotTerms & { status: 'active' | 'halted' }> = {}): InstrumentSpec {
  return {
    kind: 'spot',
    symbol: SYMBOL,
    modelClassId: 'llama-3.1-70b',
    tickMicroUsdPerMTok: 1000,
    lotTokens: 1000,
    makerFeeBps: 0,
    takerFeeBps: 10,
    collarBps: 1000,
    spotWindowSeconds: 86_400,
    bondBps: 1000,
    status: 'active',
    ...overrides,
  } as InstrumentSpec;
}

/** A participant's accounts: participant i owns ids 10(i+1)+0..4 (available, held, escrow, bond, margin). */
export function accountsFor(participants: readonly string[]): Map<string, OrderAccounts> {
  return new Map(
    participants.map((p, i) => {
      const base = BigInt(10 * (i + 1));
      return [p, { available: base, held: base + 1n, escrow: base + 2n, bond: base + 3n, margin: base + 4n }];
    }),
  );
}

/** Plenty of capacity: 100 tokens/s over a day is 8,640 lots of 1,000 tokens. */
export const ENOUGH_CAPACITY: ProviderCapacity = { activeNodes: 1, tokensPerSecond: 100n, soldBefore: 0 };

export interface HarnessOptions {
  readonly participants: Readonly<Record<string, bigint>>;
  readonly terms?: InstrumentSpec;
  readonly rules?: ProductRules;
  readonly capacity?: ReadonlyMap<string, ProviderCapacity>;
  readonly knownClientOrderIds?: ReadonlyMap<string, bigint>;
  readonly indexPriceTicks?: number;
  readonly reference?: boolean;
  /** What the product keeps across batches (`BookState.product`, e.g. a forward book); none on spot. */
  readonly product?: unknown;
  /** The product's facts for each batch (`BatchFacts.product`), read as its shell would before planning; none on spot. */
  readonly productFacts?: (commands: readonly BookCommand[], harness: Harness) => unknown;
  /** Opening balances of other accounts (participants' bonds, the insurance fund), by account id. */
  readonly balances?: ReadonlyMap<AccountId, bigint>;
}

/** One book driven batch by batch, with the participants' balances kept as the ledger would. */
export class Harness {
  readonly state: BookState;
  readonly accounts: Map<string, OrderAccounts>;
  readonly balances = new Map<AccountId, bigint>();
  readonly known: Map<string, bigint>;
  terms: InstrumentSpec;
  rules: ProductRules;
  capacity: ReadonlyMap<string, ProviderCapacity>;
  indexPriceTicks?: number;
  productFacts?: (commands: readonly BookCommand[], harness: Harness) => unknown;
  now = NOW;
  /** The lowest balance any debited account reached while the last batch's transfers were applied. */
  lowest = 0n;
  /** Order ids the last batch was given, one per place command in order. */
  lastOrderIds: readonly number[] = [];
  private nextOrderId = 1;

  constructor(options: HarnessOptions) {
    const participants = Object.keys(options.participants);
    this.terms = options.terms ?? spotTerms();
    this.rules = options.rules ?? SPOT_RULES;
    this.accounts = accountsFor(participants);
    for (const [p, cash] of Object.entries(options.participants)) this.balances.set(this.accounts.get(p)!.available, cash);
    for (const [account, balance] of options.balances ?? []) this.balances.set(account, balance);
    this.productFacts = options.productFacts;
    this.capacity = options.capacity ?? new Map(participants.map((p) => [p, ENOUGH_CAPACITY]));
    this.known = new Map(options.knownClientOrderIds ?? []);
    this.indexPriceTicks = options.indexPriceTicks;
    const config = { collarBps: this.terms.collarBps };
    const book: OrderBook = options.reference ? new ReferenceOrderBook(config) : new FastOrderBook(config);
    this.state = { symbol: this.terms.symbol, book, orders: new LiveOrders(), ...(options.product !== undefined ? { product: options.product } : {}) };
  }

  facts(commands: readonly BookCommand[]): BatchFacts {
    const places = commands.filter((c) => c.kind === 'place').length;
    const orderIds = Array.from({ length: places }, (_, i) => this.nextOrderId + i);
    const spendable = new Map<AccountId, bigint>();
    for (const a of this.accounts.values()) spendable.set(a.available, this.balance(a.available));
    return {
      now: this.now,
      terms: this.terms,
      feesAccount: FEES_ACCOUNT,
      accounts: this.accounts,
      spendable,
      knownClientOrderIds: new Map(this.known),
      orderIds,
      capacity: this.capacity,
      ...(this.indexPriceTicks !== undefined ? { indexPriceTicks: this.indexPriceTicks } : {}),
      ...(this.productFacts ? { product: this.productFacts(commands, this) } : {}),
    };
  }

  /** Plans one batch, applies its transfers and commits its orders as the writer does. */
  run(commands: readonly BookCommand[]): BatchPlan {
    const facts = this.facts(commands);
    this.nextOrderId += facts.orderIds.length;
    const plan = planBatch(this.state, this.rules, facts, commands);
    this.lastOrderIds = facts.orderIds;
    this.lowest = applyTransfers(this.balances, plan.transfers);
    for (const o of plan.orders) {
      if (o.clientOrderId !== null) this.known.set(clientOrderKey(o.participantId, o.clientOrderId), BigInt(o.id));
      if (o.status !== 'open') this.state.orders.delete(o.id);
    }
    return plan;
  }

  balance(account: AccountId): bigint {
    return this.balances.get(account) ?? 0n;
  }

  balancesOf(participantId: string): Balances {
    const a = this.accounts.get(participantId)!;
    return { available: this.balance(a.available), held: this.balance(a.held), escrow: this.balance(a.escrow), bond: this.balance(a.bond) };
  }

  fees(): bigint {
    return this.balance(FEES_ACCOUNT);
  }
}

/** Posts simple transfers to a balance map (credit adds, debit subtracts); returns the lowest balance seen. */
export function applyTransfers(balances: Map<AccountId, bigint>, transfers: readonly TransferRequest[]): bigint {
  let lowest = 0n;
  for (const t of transfers) {
    const amount = t.amount!;
    const debit = (balances.get(t.debitAccountId!) ?? 0n) - amount;
    balances.set(t.debitAccountId!, debit);
    balances.set(t.creditAccountId!, (balances.get(t.creditAccountId!) ?? 0n) + amount);
    if (debit < lowest) lowest = debit;
  }
  return lowest;
}

const DEFAULT_PLACE = { kind: 'place', type: 'limit', timeInForce: 'GTC', postOnly: false, stp: 'cancel_taker' } as const;

export const buy = (participantId: string, priceTicks: number, lots: number, extra: Partial<BookCommand> = {}): BookCommand =>
  ({ ...DEFAULT_PLACE, participantId, side: 'buy', priceTicks, lots, ...extra }) as BookCommand;

export const sell = (participantId: string, priceTicks: number, lots: number, extra: Partial<BookCommand> = {}): BookCommand =>
  ({ ...DEFAULT_PLACE, participantId, side: 'sell', priceTicks, lots, ...extra }) as BookCommand;

export const marketOrder = (participantId: string, side: 'buy' | 'sell', lots: number): BookCommand => ({
  ...DEFAULT_PLACE,
  participantId,
  side,
  type: 'market',
  timeInForce: 'IOC',
  lots,
});

export const cancel = (participantId: string, orderId: number): BookCommand => ({ kind: 'cancel', participantId, orderId });

export const amend = (participantId: string, orderId: number, change: { priceTicks?: number; lots?: number }): BookCommand => ({
  kind: 'amend',
  participantId,
  orderId,
  ...change,
});
