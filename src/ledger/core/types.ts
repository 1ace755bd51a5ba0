/**
 * The ledger's data model, after TigerBeetle: accounts hold four running totals, transfers are
 * insert-only and carry a caller-chosen id, and two-phase transfers (pending, then posted or
 * voided) reserve money without moving it.
 *
 * Every account's balance is `creditsPosted - debitsPosted`. Each transfer adds its amount to one
 * account's debits and another's credits, so the balances of all accounts always sum to zero.
 */
export type AccountId = bigint;

export const AccountFlags = {
  None: 0,
  /** The account can never be overdrawn: debits (posted + pending) stay within posted credits. */
  DebitsMustNotExceedCredits: 1 << 0,
  /** The mirror rule, for accounts that are debit-normal. */
  CreditsMustNotExceedDebits: 1 << 1,
} as const;

export interface Account {
  readonly id: AccountId;
  readonly flags: number;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

export const TransferFlags = {
  None: 0,
  /** This transfer and the next one apply together or not at all (chains of any length). */
  Linked: 1 << 0,
  /** Reserve the amount (a hold) instead of moving it. */
  Pending: 1 << 1,
  /** Move all or part of a pending transfer's amount; release the rest. */
  PostPending: 1 << 2,
  /** Release a pending transfer's whole amount. */
  VoidPending: 1 << 3,
} as const;

const KNOWN_FLAGS = TransferFlags.Linked | TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;
const PHASE_FLAGS = TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;

export function hasFlag(flags: number, flag: number): boolean {
  return (flags & flag) !== 0;
}

export function isKnownFlagSet(flags: number): boolean {
  if ((flags & ~KNOWN_FLAGS) !== 0) return false;
  const phase = flags & PHASE_FLAGS;
  return (phase & (phase - 1)) === 0; // at most one phase flag
}

/** What a caller asks for. Posts and voids may leave out the accounts: they are the pending transfer's. */
export interface TransferRequest {
  readonly id: string;
  readonly debitAccountId?: AccountId;
  readonly creditAccountId?: AccountId;
  /** Required (> 0) for single-phase and pending transfers; for a post, omitted means the full pending amount. */
  readonly amount?: bigint;
  readonly pendingId?: string;
  readonly flags?: number;
  /** What kind of movement this is, e.g. `deposit`, `withdrawal`, `order-hold`. */
  readonly code: string;
  /** The business record this movement belongs to, e.g. a withdrawal id. */
  readonly ref?: string;
}

/** A transfer as recorded: accounts and amount resolved (for a post: the amount posted; for a void: the amount released). */
export interface Transfer {
  readonly id: string;
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly amount: bigint;
  readonly pendingId: string | null;
  readonly flags: number;
  readonly code: string;
  readonly ref: string | null;
}

export type PendingResolution = 'posted' | 'voided';

/** Why the ledger refused a transfer. Codes, not exceptions: callers decide what they mean. */
export const LedgerRejection = {
  IdRequired: 'ID_REQUIRED',
  IdTooLong: 'ID_TOO_LONG',
  InvalidFlags: 'INVALID_FLAGS',
  CodeRequired: 'CODE_REQUIRED',
  ExistsWithDifferentFields: 'EXISTS_WITH_DIFFERENT_FIELDS',
  AccountsRequired: 'ACCOUNTS_REQUIRED',
  AccountsMustBeDifferent: 'ACCOUNTS_MUST_BE_DIFFERENT',
  DebitAccountNotFound: 'DEBIT_ACCOUNT_NOT_FOUND',
  CreditAccountNotFound: 'CREDIT_ACCOUNT_NOT_FOUND',
  AmountMustBePositive: 'AMOUNT_MUST_BE_POSITIVE',
  PendingIdMustBeAbsent: 'PENDING_ID_MUST_BE_ABSENT',
  PendingIdRequired: 'PENDING_ID_REQUIRED',
  PendingTransferNotFound: 'PENDING_TRANSFER_NOT_FOUND',
  PendingTransferNotPending: 'PENDING_TRANSFER_NOT_PENDING',
  PendingTransferHasDifferentAccounts: 'PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS',
  PendingTransferAlreadyPosted: 'PENDING_TRANSFER_ALREADY_POSTED',
  PendingTransferAlreadyVoided: 'PENDING_TRANSFER_ALREADY_VOIDED',
  ExceedsPendingAmount: 'EXCEEDS_PENDING_AMOUNT',
  VoidAmountMustMatch: 'VOID_AMOUNT_MUST_MATCH',
  ExceedsCredits: 'EXCEEDS_CREDITS',
  ExceedsDebits: 'EXCEEDS_DEBITS',
  Overflow: 'OVERFLOW',
  LinkedEventFailed: 'LINKED_EVENT_FAILED',
  LinkedEventChainOpen: 'LINKED_EVENT_CHAIN_OPEN',
} as const;
export type LedgerRejection = (typeof LedgerRejection)[keyof typeof LedgerRejection];

export type TransferResult =
  | { readonly status: 'created'; readonly transfer: Transfer }
  /** The same id and body were applied before: nothing changes, the first transfer is returned. */
  | { readonly status: 'exists'; readonly transfer: Transfer }
  | { readonly status: 'rejected'; readonly code: LedgerRejection };

/** What the core reads: the current state of the accounts and transfers a batch touches. */
export interface LedgerView {
  account(id: AccountId): Account | undefined;
  transfer(id: string): Transfer | undefined;
  resolution(pendingId: string): PendingResolution | undefined;
}

export interface AppliedBatch {
  /** One result per request, in request order. */
  readonly results: TransferResult[];
  /** Transfers to record, in the order they were applied. */
  readonly created: Transfer[];
  /** Final state of every account the batch changed. */
  readonly changedAccounts: Account[];
}

/** Totals are stored in PostgreSQL BIGINT columns. */
export const MAX_TOTAL = (1n << 63n) - 1n;
export const MAX_TRANSFER_ID_LENGTH = 160;
