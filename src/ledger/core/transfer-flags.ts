import { hasFlag, TransferFlags } from './types.js';

const NAMES: ReadonlyArray<readonly [number, string]> = [
  [TransferFlags.Linked, 'linked'],
  [TransferFlags.Pending, 'pending'],
  [TransferFlags.PostPending, 'post_pending'],
  [TransferFlags.VoidPending, 'void_pending'],
];

/** A transfer's flags by name, for people reading the ledger (an unknown bit is named by its value). */
export function transferFlagNames(flags: number): string[] {
  const names = NAMES.filter(([bit]) => hasFlag(flags, bit)).map(([, name]) => name);
  const unknown = NAMES.reduce((rest, [bit]) => rest & ~bit, flags);
  return unknown === 0 ? names : [...names, `0x${unknown.toString(16)}`];
}

/** What a transfer did: a hold reserves (pending), a void releases one, anything else moved money. */
export function transferPhase(flags: number): 'posted' | 'pending' | 'voided' {
  return hasFlag(flags, TransferFlags.Pending) ? 'pending' : hasFlag(flags, TransferFlags.VoidPending) ? 'voided' : 'posted';
}
