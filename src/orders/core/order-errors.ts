import { DomainError, invalid, notFound, unprocessable } from '../../common/domain-error.js';
import { RejectCode } from '../../matching/index.js';

/**
 * What an engine rejection means to the client. Input problems the DTO could not see are 400s
 * naming the field; business refusals (post-only would take, FOK not fillable) are 422s; an order
 * the caller does not own is not found. A sequence or order id problem is ours, not the client's.
 */
export function rejectionToError(code: string): DomainError | Error {
  switch (code) {
    case RejectCode.INVALID_QUANTITY:
      return invalid('VALIDATION_FAILED', 'quantity must be a positive whole number of lots', { fields: ['quantity'] });
    case RejectCode.INVALID_PRICE:
      return invalid('VALIDATION_FAILED', 'price must be a positive multiple of the tick size', { fields: ['price'] });
    case RejectCode.INVALID_EXPIRY:
      return invalid('VALIDATION_FAILED', 'expiresAt must be in the future, and only with timeInForce GTD', { fields: ['expiresAt'] });
    case RejectCode.INVALID_TIME_IN_FORCE:
      return invalid('VALIDATION_FAILED', 'timeInForce: market orders take IOC or FOK', { fields: ['timeInForce'] });
    case RejectCode.INVALID_POST_ONLY:
      return invalid('VALIDATION_FAILED', 'postOnly is only for GTC or GTD limit orders', { fields: ['postOnly'] });
    case RejectCode.INVALID_AMEND:
      return invalid('VALIDATION_FAILED', 'an amend needs a new price or a new quantity', { fields: ['price', 'quantity'] });
    case RejectCode.POST_ONLY_WOULD_TAKE:
      return unprocessable('POST_ONLY_WOULD_TAKE', 'the post-only order would trade against a resting order');
    case RejectCode.FOK_NOT_FILLABLE:
      return unprocessable('FOK_NOT_FILLABLE', 'the fill-or-kill order cannot be filled in full now');
    case RejectCode.NO_REFERENCE_PRICE:
      return unprocessable('NO_REFERENCE_PRICE', 'a market order needs a last trade or index price to set its price collar');
    case RejectCode.AMEND_BELOW_FILLED:
      return unprocessable('AMEND_BELOW_FILLED', 'the new quantity must be above what has already been filled');
    case RejectCode.ORDER_EXPIRED:
    case RejectCode.UNKNOWN_ORDER:
      return notFound('ORDER_NOT_FOUND', 'no open order with that id');
    default:
      return new Error(`the matching engine rejected a command: ${code}`);
  }
}
