import { conflict, DomainError, invalid, unprocessable } from '../../common/domain-error.js';
import type { ProductBookAccess, ProductCommand, ProductCommandResult } from '../../orders/core/position-keeper.js';
import { formatPrice } from '../../markets/price.js';
import { dailyMark } from './daily-mark.js';
import { expireContract } from './expiry.js';
import type { AuditNote } from './forward-book.js';
import type { ForwardKeeper } from './forward-keeper.js';

/** The ledger transfer a top-up makes, named by the caller's key (participant and Idempotency-Key). */
export const topUpTransferId = (key: string) => `margin-top-up:${key}`;

/** Names of the forward product's own commands, run by a contract's writer like orders. */
export const FORWARD_COMMANDS = { topUp: 'margin_top_up', mark: 'daily_mark', expire: 'expire_contract' } as const;

/** Runs one of the forward product's own commands on the contract's book. */
export function runForwardCommand(keeper: ForwardKeeper, command: ProductCommand, access: ProductBookAccess): ProductCommandResult {
  switch (command.name) {
    case FORWARD_COMMANDS.topUp:
      return topUp(keeper, command, access);
    case FORWARD_COMMANDS.mark: {
      oneMarkPerBatch(keeper);
      const { day, override } = command.payload as { day: string; override?: { priceTicks: number; reason: string } };
      const outcome = dailyMark(keeper, { day, ...(override ? { override } : {}) }, markFacts(keeper), access);
      if (!outcome.repeated) audit(keeper, command, { day: outcome.mark.day, price: formatPrice(outcome.mark.priceTicks, keeper.terms), source: outcome.mark.source });
      return { value: outcome };
    }
    case FORWARD_COMMANDS.expire: {
      oneMarkPerBatch(keeper);
      const outcome = expireContract(keeper, command.payload.day as string, markFacts(keeper), access);
      if (!outcome.repeated) {
        const settlementPrice = outcome.settlementPriceTicks > 0 ? formatPrice(outcome.settlementPriceTicks, keeper.terms) : null;
        audit(keeper, command, { settlementDay: outcome.settlementDay, settlementPrice, deliveries: outcome.deliveries.length });
      }
      return { value: outcome };
    }
    default:
      throw invalid('VALIDATION_FAILED', `unknown forward command ${command.name}`);
  }
}

/** An admin's command carries who and why (`payload.audit`); what it did is added here, for the commit. */
function audit(keeper: ForwardKeeper, command: ProductCommand, did: Record<string, unknown>): void {
  const note = command.payload.audit as AuditNote | undefined;
  if (note) keeper.recorded.audits.push({ ...note, details: { ...note.details, ...did } });
}

/**
 * A mark's facts (free bond, the insurance fund) are read before the batch: a second mark in the
 * same batch would spend them again, so it waits for the next batch (the caller retries).
 */
function oneMarkPerBatch(keeper: ForwardKeeper): void {
  if (keeper.marked) throw new DomainError('ORDER_BOOK_BUSY', 'one mark per batch: retry', 'unavailable', { retryAfterSeconds: 1 });
  keeper.marked = true;
}

function markFacts(keeper: ForwardKeeper) {
  if (!keeper.facts.mark) throw new Error('a mark or expiry ran without its facts');
  return keeper.facts.mark;
}

/**
 * Moves cash from the participant's available account to its margin on this contract: how a
 * margin call is cured by a deposit (market-rules §6). The transfer id is the caller's key, so a
 * repeated request moves nothing twice.
 */
function topUp(keeper: ForwardKeeper, command: ProductCommand, access: ProductBookAccess): ProductCommandResult {
  const participantId = command.participantId!;
  const amount = command.payload.amount as bigint;
  const id = topUpTransferId(command.payload.key as string);
  // A key made before the batch, or earlier in it, moves nothing again.
  const made = keeper.facts.topUpsMade?.get(id) ?? keeper.topUpsInBatch.get(id);
  if (made !== undefined) {
    if (made !== amount) throw conflict('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key named a top-up of another amount');
    return { value: { margin: keeper.position(participantId).margin, cured: false } };
  }
  if (!access.reserve(participantId, amount)) throw unprocessable('INSUFFICIENT_FUNDS', 'available cash does not cover the top-up');
  const accounts = access.accountsOf(participantId);
  keeper.topUpsInBatch.set(id, amount);
  access.transfer({ id, debitAccountId: accounts.available, creditAccountId: accounts.margin, amount, code: 'margin-top-up', ref: keeper.terms.symbol });
  const position = keeper.position(participantId);
  const requirement = keeper.requirement(participantId);
  const margin = position.margin + amount;
  const cured = position.inCall && margin >= requirement;
  keeper.setPosition({ ...position, margin, inCall: position.inCall && !cured });
  if (cured) keeper.recorded.calls.push({ participantId, event: 'cured', equity: margin, requirement });
  return { value: { margin, cured } };
}
