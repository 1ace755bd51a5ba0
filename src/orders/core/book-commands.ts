import type { StpMode, TimeInForce } from '../../matching/index.js';
import type { FillRecord } from './batch-money.js';
import type { LiveOrder } from './live-order.js';
import type { ProductCommand } from './position-keeper.js';

/**
 * What a client (or the exchange itself) asks of one book. Every command that touches a book goes
 * through its gateway as one of these, so they are plain data: they cross processes as JSON.
 */
export type BookCommand =
  | {
      readonly kind: 'place';
      readonly participantId: string;
      readonly side: 'buy' | 'sell';
      readonly type: 'limit' | 'market';
      readonly timeInForce: TimeInForce;
      readonly priceTicks?: number;
      readonly lots: number;
      readonly expiresAt?: number;
      readonly postOnly: boolean;
      readonly stp: StpMode;
      readonly clientOrderId?: string;
      /** The request's `Idempotency-Key` and the hash of its body: the same key twice gets the first answer. */
      readonly idempotency?: { readonly key: string; readonly requestHash: string };
    }
  | { readonly kind: 'amend'; readonly participantId: string; readonly orderId: number; readonly priceTicks?: number; readonly lots?: number }
  | { readonly kind: 'cancel'; readonly participantId: string; readonly orderId: number; readonly byAdmin?: AdminAction }
  | { readonly kind: 'cancel_all'; readonly participantId: string; readonly byAdmin?: AdminAction }
  | { readonly kind: 'expire' }
  | ProductCommand;

/** An admin acting on a participant's orders: audited, with the reason, in the batch's commit. */
export interface AdminAction {
  readonly actorId: string;
  readonly reason: string;
}

export type PlaceCommand = Extract<BookCommand, { kind: 'place' }>;
export type AmendCommand = Extract<BookCommand, { kind: 'amend' }>;

/** What one command did, once committed. */
export interface CommandResult {
  /** The order the command was about (for cancel_all and expire: none). */
  readonly order?: LiveOrder;
  /** Orders it closed (cancel_all, expire). */
  readonly closed: LiveOrder[];
  readonly fills: FillRecord[];
  /** The command repeated a clientOrderId: the first order's id, to be read back. */
  readonly duplicateOf?: bigint;
  /** What a product command answers (forwards: the mark it set, the expiry it ran). */
  readonly product?: unknown;
  /** A keyed place's answer, committed with it; `replayed` when it is an earlier command's. */
  readonly answer?: KeyedAnswer;
  /** A keyed place repeating an earlier command of the same batch: that command's index. */
  readonly sameAs?: number;
}

/** An answer stored under an `Idempotency-Key`: what the first request with that key was told. */
export interface StoredAnswer {
  readonly requestHash: string;
  readonly statusCode: number;
  readonly body: unknown;
}

export interface KeyedAnswer {
  readonly statusCode: number;
  readonly body: unknown;
  readonly replayed: boolean;
}

/** The key of a participant's clientOrderId in the batch's facts. */
export const clientOrderKey = (participantId: string, clientOrderId: string) => `${participantId}\u0000${clientOrderId}`;
