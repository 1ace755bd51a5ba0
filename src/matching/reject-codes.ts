// Why a command was rejected. A rejected command changes nothing in the book except, when its
// sequence number was valid, the book's lastSequence.
export const RejectCode = {
  /** `seq` is not lastSequence + 1; lastSequence is not advanced. */
  INVALID_SEQUENCE: 'INVALID_SEQUENCE',
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  INVALID_TIMESTAMP: 'INVALID_TIMESTAMP',
  INVALID_ORDER_ID: 'INVALID_ORDER_ID',
  /** The order id is not above every id the book has accepted. */
  DUPLICATE_ORDER_ID: 'DUPLICATE_ORDER_ID',
  INVALID_OWNER: 'INVALID_OWNER',
  INVALID_SIDE: 'INVALID_SIDE',
  INVALID_ORDER_TYPE: 'INVALID_ORDER_TYPE',
  INVALID_QUANTITY: 'INVALID_QUANTITY',
  INVALID_PRICE: 'INVALID_PRICE',
  INVALID_TIME_IN_FORCE: 'INVALID_TIME_IN_FORCE',
  INVALID_EXPIRY: 'INVALID_EXPIRY',
  INVALID_POST_ONLY: 'INVALID_POST_ONLY',
  INVALID_STP_MODE: 'INVALID_STP_MODE',
  /** An amend with neither a price nor a quantity. */
  INVALID_AMEND: 'INVALID_AMEND',
  /** A post-only order (placed or amended) would cross a resting order. */
  POST_ONLY_WOULD_TAKE: 'POST_ONLY_WOULD_TAKE',
  /** A FOK order cannot be filled entirely right now. */
  FOK_NOT_FILLABLE: 'FOK_NOT_FILLABLE',
  /** A market order arrived before any trade or reference price. */
  NO_REFERENCE_PRICE: 'NO_REFERENCE_PRICE',
  /** No resting order with that id belongs to that owner (others' orders are not revealed). */
  UNKNOWN_ORDER: 'UNKNOWN_ORDER',
  /** An amend's new total quantity is not above what has already been filled. */
  AMEND_BELOW_FILLED: 'AMEND_BELOW_FILLED',
  /** An amend of a GTD order whose expiry time has passed (the next `expire` removes it). */
  ORDER_EXPIRED: 'ORDER_EXPIRED',
} as const;

export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];
