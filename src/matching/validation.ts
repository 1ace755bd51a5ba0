import type { AmendCommand, Command, PlaceCommand } from './commands.js';
import { RejectCode } from './reject-codes.js';

// Checks that need no book state, shared by both books. Commands may come from a parsed journal,
// so every field is checked at run time, not trusted to its TypeScript type.

const SIDES: ReadonlySet<unknown> = new Set(['buy', 'sell']);
const TIMES_IN_FORCE: ReadonlySet<unknown> = new Set(['GTC', 'IOC', 'FOK', 'GTD']);
const STP_MODES: ReadonlySet<unknown> = new Set(['cancel_taker', 'cancel_maker', 'cancel_both']);

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isOwner(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** The order id a rejection should name, for commands that name one. */
export function orderIdOf(command: Command): number | undefined {
  return 'orderId' in command ? command.orderId : undefined;
}

export function validateCommand(command: Command): RejectCode | undefined {
  if (!Number.isSafeInteger(command.timestamp) || command.timestamp < 0) {
    return RejectCode.INVALID_TIMESTAMP;
  }
  switch (command.type) {
    case 'place':
      return validatePlace(command);
    case 'amend':
      return validateAmend(command);
    case 'cancel':
      if (!isPositiveInteger(command.orderId)) return RejectCode.INVALID_ORDER_ID;
      return isOwner(command.owner) ? undefined : RejectCode.INVALID_OWNER;
    case 'cancel_all':
      return isOwner(command.owner) ? undefined : RejectCode.INVALID_OWNER;
    case 'expire':
      return undefined;
    case 'set_reference_price':
      return isPositiveInteger(command.priceTicks) ? undefined : RejectCode.INVALID_PRICE;
    default:
      return RejectCode.UNKNOWN_COMMAND;
  }
}

function validatePlace(command: PlaceCommand): RejectCode | undefined {
  const { orderType, timeInForce, postOnly, expiresAt } = command;
  if (!isPositiveInteger(command.orderId)) return RejectCode.INVALID_ORDER_ID;
  if (!isOwner(command.owner)) return RejectCode.INVALID_OWNER;
  if (!SIDES.has(command.side)) return RejectCode.INVALID_SIDE;
  if (orderType !== 'limit' && orderType !== 'market') return RejectCode.INVALID_ORDER_TYPE;
  if (!isPositiveInteger(command.quantity)) return RejectCode.INVALID_QUANTITY;
  const priceValid = orderType === 'limit' ? isPositiveInteger(command.priceTicks) : command.priceTicks === undefined;
  if (!priceValid) return RejectCode.INVALID_PRICE;
  if (!TIMES_IN_FORCE.has(timeInForce)) return RejectCode.INVALID_TIME_IN_FORCE;
  const rests = timeInForce === 'GTC' || timeInForce === 'GTD';
  // A market order never rests: its unfilled rest is cancelled.
  if (orderType === 'market' && rests) return RejectCode.INVALID_TIME_IN_FORCE;
  const expiryValid =
    timeInForce === 'GTD'
      ? Number.isSafeInteger(expiresAt) && (expiresAt as number) > command.timestamp
      : expiresAt === undefined;
  if (!expiryValid) return RejectCode.INVALID_EXPIRY;
  if (postOnly !== undefined && typeof postOnly !== 'boolean') return RejectCode.INVALID_POST_ONLY;
  // Post-only means "make liquidity": only an order that can rest can make it.
  if (postOnly === true && (orderType !== 'limit' || !rests)) return RejectCode.INVALID_POST_ONLY;
  if (command.stp !== undefined && !STP_MODES.has(command.stp)) return RejectCode.INVALID_STP_MODE;
  return undefined;
}

function validateAmend(command: AmendCommand): RejectCode | undefined {
  const { priceTicks, quantity } = command;
  if (!isPositiveInteger(command.orderId)) return RejectCode.INVALID_ORDER_ID;
  if (!isOwner(command.owner)) return RejectCode.INVALID_OWNER;
  if (priceTicks === undefined && quantity === undefined) return RejectCode.INVALID_AMEND;
  if (priceTicks !== undefined && !isPositiveInteger(priceTicks)) return RejectCode.INVALID_PRICE;
  if (quantity !== undefined && !isPositiveInteger(quantity)) return RejectCode.INVALID_QUANTITY;
  return undefined;
}
