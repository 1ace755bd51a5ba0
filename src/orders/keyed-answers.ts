import { DomainError } from '../common/domain-error.js';
import type { PriceGrid } from '../markets/price.js';
import type { KeyedAnswer as StoredKeyedAnswer } from '../platform/idempotency/stored-answers.js';
import type { BookCommand, CommandResult } from './core/book-commands.js';
import { orderView } from './order-views.js';

/**
 * The answers of a batch's places sent with an `Idempotency-Key`, once the batch is planned: each
 * new order's answer is its view as this batch commits it (201), stored by the same commit; a
 * repeat of a command earlier in the batch gets that command's answer (or refusal). The planner
 * already answered repeats of committed keys and refused other requests under a used key.
 */
export function keyedAnswers(
  commands: readonly BookCommand[],
  planned: ReadonlyArray<CommandResult | DomainError>,
  grid: PriceGrid,
): { results: Array<CommandResult | DomainError>; toStore: StoredKeyedAnswer[] } {
  const toStore: StoredKeyedAnswer[] = [];
  const results = planned.map((result, i) => {
    const command = commands[i];
    if (command.kind !== 'place' || !command.idempotency || result instanceof DomainError) return result;
    if (result.answer || result.sameAs !== undefined || result.duplicateOf !== undefined || !result.order) return result;
    const body = orderView(result.order, grid, result.fills);
    toStore.push({ participantId: command.participantId, key: command.idempotency.key, requestHash: command.idempotency.requestHash, statusCode: 201, body });
    return { ...result, answer: { statusCode: 201, body, replayed: false } };
  });
  for (const [i, result] of results.entries()) {
    if (result instanceof DomainError || result.sameAs === undefined) continue;
    const first = results[result.sameAs];
    results[i] = first instanceof DomainError ? first : { ...result, answer: { ...first.answer!, replayed: true } };
  }
  return { results, toStore };
}
