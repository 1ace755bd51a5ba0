/**
 * Where a spot delivery stands, as the ops console shows it (docs/settlement.md). Pure: times are
 * integer milliseconds since the epoch.
 *
 * - open: its window has not ended.
 * - closing: the window ended but the delivery is not closed yet, because the close waits for the
 *   grace period, for an admin to resolve disputed tokens, for an admin to retry a failed step, or
 *   (none of those) for the next close sweep.
 * - closed: settled, with an outcome.
 *
 * In breach is a separate flag: closed with the outcome breach, or, not closed yet, the evidence
 * the close would judge by says breach now.
 */
export type DeliveryPhase = 'open' | 'closing' | 'closed';
export const DELIVERY_PHASES = ['open', 'closing', 'closed'] as const;
export type ClosingWait = 'grace' | 'dispute' | 'failed_step' | 'sweep';

export interface PhaseFacts {
  readonly status: 'open' | 'closed';
  readonly outcome: 'delivered' | 'take_or_pay' | 'breach' | null;
  readonly windowEnd: number;
  readonly disputedTokens: bigint;
  readonly failedSteps: number;
}

export interface PhaseView {
  readonly phase: DeliveryPhase;
  /** Why a closing delivery is not closed yet; null otherwise. */
  readonly waitingOn: ClosingWait | null;
  /** When the close becomes due (window end plus grace); null once closed. */
  readonly closeDueAt: number | null;
}

export function deliveryPhase(f: PhaseFacts, now: number, graceMs: number): PhaseView {
  if (f.status === 'closed') return { phase: 'closed', waitingOn: null, closeDueAt: null };
  const closeDueAt = f.windowEnd + graceMs;
  if (now < f.windowEnd) return { phase: 'open', waitingOn: null, closeDueAt };
  const waitingOn: ClosingWait = f.failedSteps > 0 ? 'failed_step' : f.disputedTokens > 0n ? 'dispute' : now < closeDueAt ? 'grace' : 'sweep';
  return { phase: 'closing', waitingOn, closeDueAt };
}

/** Closed in breach, or not closed and the evidence says breach now. */
export const inBreach = (f: Pick<PhaseFacts, 'status' | 'outcome'>, evidenceBreach: boolean): boolean =>
  f.status === 'closed' ? f.outcome === 'breach' : evidenceBreach;
