import { conflict } from '../../common/domain-error.js';
import { clientOrderKey, type CommandResult, type PlaceCommand, type StoredAnswer } from './book-commands.js';

/**
 * Places sent with an `Idempotency-Key`, within one batch. A key already committed, or placed
 * earlier in the batch, answers as it did the first time (the shell fills in a batch-mate's
 * answer) and places nothing; the same key with another request is a 409. A refused place, or one
 * that repeated a clientOrderId, leaves no key, so it can be sent again.
 */
export class KeyedPlaces {
  private readonly placed = new Map<string, { requestHash: string; index: number }>();

  constructor(private readonly stored: ReadonlyMap<string, StoredAnswer> = new Map()) {}

  place(command: PlaceCommand, index: number, run: () => CommandResult): CommandResult {
    const { idempotency } = command;
    if (!idempotency) return run();
    const id = clientOrderKey(command.participantId, idempotency.key);
    const stored = this.stored.get(id);
    const earlier = this.placed.get(id);
    const first = stored ?? earlier;
    if (first !== undefined && first.requestHash !== idempotency.requestHash) {
      throw conflict('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used with a different request');
    }
    if (stored) return { closed: [], fills: [], answer: { statusCode: stored.statusCode, body: stored.body, replayed: true } };
    if (earlier) return { closed: [], fills: [], sameAs: earlier.index };
    const result = run();
    if (result.duplicateOf === undefined) this.placed.set(id, { requestHash: idempotency.requestHash, index });
    return result;
  }
}
