/**
 * Where a forward contract stands, as the console shows it: trading until its last trade (unless
 * halted); after it, awaiting expiry while positions or orders are still open, then expired.
 */
export type ContractState = 'trading' | 'halted' | 'awaiting expiry' | 'expired';

export function contractState(contract: { readonly status: string; readonly lastTradeAt: Date; readonly open: boolean }, now: Date): ContractState {
  if (now.getTime() >= contract.lastTradeAt.getTime()) return contract.open ? 'awaiting expiry' : 'expired';
  return contract.status === 'halted' ? 'halted' : 'trading';
}
