import { type Account, AccountFlags, type AccountId, hasFlag, type Transfer, TransferFlags } from './types.js';

export interface Totals {
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

const zero = (): Totals => ({ debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n });

/** An account's balance: what it holds, credit-normal. */
export function balanceOf(account: Totals): bigint {
  return account.creditsPosted - account.debitsPosted;
}

/** What a DebitsMustNotExceedCredits account may still spend: posted credits less every debit, pending included. */
export function spendableOf(account: Totals): bigint {
  return account.creditsPosted - account.debitsPosted - account.debitsPending;
}

/**
 * Rebuilds every account's totals from the transfers alone, the way an auditor would: a
 * single-phase transfer counts as posted; a pending one counts as pending until a post or void
 * resolves it; a post counts its posted amount; a void counts nothing.
 */
export function rebuildTotals(transfers: Iterable<Transfer>): Map<AccountId, Totals> {
  const all = [...transfers];
  const resolved = new Set(all.filter((t) => t.pendingId !== null).map((t) => t.pendingId));
  const totals = new Map<AccountId, Totals>();
  const of = (id: AccountId) => {
    let t = totals.get(id);
    if (!t) totals.set(id, (t = zero()));
    return t;
  };
  for (const t of all) {
    const debit = of(t.debitAccountId);
    const credit = of(t.creditAccountId);
    if (hasFlag(t.flags, TransferFlags.VoidPending)) continue;
    if (hasFlag(t.flags, TransferFlags.Pending)) {
      if (resolved.has(t.id)) continue;
      debit.debitsPending += t.amount;
      credit.creditsPending += t.amount;
    } else {
      debit.debitsPosted += t.amount;
      credit.creditsPosted += t.amount;
    }
  }
  return totals;
}

export interface TrialBalance {
  /** Sum of every account's posted balance: zero in a sound ledger. */
  readonly postedSum: bigint;
  /** Sum of pending credits less pending debits: zero in a sound ledger. */
  readonly pendingSum: bigint;
  readonly balanced: boolean;
}

export function trialBalance(accounts: Iterable<Totals>): TrialBalance {
  let postedSum = 0n;
  let pendingSum = 0n;
  for (const a of accounts) {
    postedSum += a.creditsPosted - a.debitsPosted;
    pendingSum += a.creditsPending - a.debitsPending;
  }
  return { postedSum, pendingSum, balanced: postedSum === 0n && pendingSum === 0n };
}

export interface BalanceMismatch {
  readonly accountId: AccountId;
  readonly stored: Totals;
  readonly rebuilt: Totals;
}

/** Compares stored account totals with totals rebuilt from transfers; lists every account that differs. */
export function compareWithRebuild(accounts: Iterable<Account>, rebuilt: Map<AccountId, Totals>): BalanceMismatch[] {
  const mismatches: BalanceMismatch[] = [];
  const seen = new Set<AccountId>();
  for (const account of accounts) {
    seen.add(account.id);
    const expected = rebuilt.get(account.id) ?? zero();
    if (!sameTotals(account, expected)) mismatches.push({ accountId: account.id, stored: totalsOf(account), rebuilt: expected });
  }
  for (const [accountId, expected] of rebuilt) {
    if (!seen.has(accountId)) mismatches.push({ accountId, stored: zero(), rebuilt: expected });
  }
  return mismatches;
}

function totalsOf(a: Totals): Totals {
  return { debitsPending: a.debitsPending, debitsPosted: a.debitsPosted, creditsPending: a.creditsPending, creditsPosted: a.creditsPosted };
}

function sameTotals(a: Totals, b: Totals): boolean {
  return (
    a.debitsPending === b.debitsPending &&
    a.debitsPosted === b.debitsPosted &&
    a.creditsPending === b.creditsPending &&
    a.creditsPosted === b.creditsPosted
  );
}

export interface LedgerAudit {
  readonly trialBalance: TrialBalance;
  /** Accounts whose stored totals differ from a rebuild from transfers. */
  readonly mismatches: BalanceMismatch[];
  /** Accounts that must not be overdrawn but are. */
  readonly overdrawn: AccountId[];
  /** Pending transfers resolved (posted or voided) more than once. */
  readonly resolvedTwice: string[];
  readonly sound: boolean;
}

/** Everything a sound ledger guarantees, checked from its accounts and full transfer history. */
export function auditLedger(accounts: readonly Account[], transfers: readonly Transfer[]): LedgerAudit {
  const balance = trialBalance(accounts);
  const mismatches = compareWithRebuild(accounts, rebuildTotals(transfers));
  const overdrawn = accounts
    .filter(
      (a) =>
        (hasFlag(a.flags, AccountFlags.DebitsMustNotExceedCredits) && a.debitsPosted + a.debitsPending > a.creditsPosted) ||
        (hasFlag(a.flags, AccountFlags.CreditsMustNotExceedDebits) && a.creditsPosted + a.creditsPending > a.debitsPosted),
    )
    .map((a) => a.id);
  const resolutions = new Map<string, number>();
  for (const t of transfers) if (t.pendingId !== null) resolutions.set(t.pendingId, (resolutions.get(t.pendingId) ?? 0) + 1);
  const resolvedTwice = [...resolutions].filter(([, count]) => count > 1).map(([id]) => id);
  return {
    trialBalance: balance,
    mismatches,
    overdrawn,
    resolvedTwice,
    sound: balance.balanced && mismatches.length === 0 && overdrawn.length === 0 && resolvedTwice.length === 0,
  };
}
