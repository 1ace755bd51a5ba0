import { conflict, DomainError, unprocessable } from '../common/domain-error.js';
import { LedgerRejection } from './core/index.js';

/**
 * What a ledger rejection means to a caller. Insufficient funds, overflow and id conflicts are the caller's
 * business; anything else means the service built a wrong transfer, which is a bug (500).
 */
export function rejectionToError(code: LedgerRejection, transferId: string): DomainError | Error {
  switch (code) {
    case LedgerRejection.ExceedsCredits:
      return unprocessable('INSUFFICIENT_FUNDS', 'available balance is too low for this amount');
    case LedgerRejection.ExistsWithDifferentFields:
      return conflict('TRANSFER_CONFLICT', `transfer ${transferId} already exists with different fields`);
    case LedgerRejection.PendingTransferAlreadyPosted:
    case LedgerRejection.PendingTransferAlreadyVoided:
      return conflict('HOLD_ALREADY_RESOLVED', `the hold of ${transferId} was already resolved`);
    case LedgerRejection.Overflow:
      // Totals are 64-bit (as in the database): an amount that would pass them is refused, not a bug.
      return unprocessable('BALANCE_OVERFLOW', 'amount would take an account past the largest balance the ledger holds');
    default:
      return new Error(`ledger rejected transfer ${transferId}: ${code}`);
  }
}
