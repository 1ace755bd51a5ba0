import { DomainError } from '../common/domain-error.js';
import { auditEventSql } from '../platform/audit/audit-trail.js';
import type { BookCommand, CommandResult } from './core/book-commands.js';

/**
 * The audit events of a batch's admin cancels, committed in the batch's own script: the audit
 * trail has an event exactly when the orders were cancelled. A cancel-all that found nothing open
 * on this book records nothing.
 */
export function adminCancelAuditsSql(symbol: string, commands: readonly BookCommand[], results: ReadonlyArray<CommandResult | DomainError>): string[] {
  return commands.flatMap((command, i) => {
    const result = results[i];
    if ((command.kind !== 'cancel' && command.kind !== 'cancel_all') || !command.byAdmin || result instanceof DomainError) return [];
    const { actorId, reason } = command.byAdmin;
    if (command.kind === 'cancel') {
      return [auditEventSql({ actorId, action: 'order.admin-cancel', subjectType: 'order', subjectId: String(command.orderId), details: { reason, participantId: command.participantId, instrument: symbol } })];
    }
    if (result.closed.length === 0) return [];
    const orderIds = result.closed.map((o) => String(o.id));
    return [auditEventSql({ actorId, action: 'participant.orders-cancelled', subjectType: 'participant', subjectId: command.participantId, details: { reason, cause: 'admin.cancel', instrument: symbol, orderIds } })];
  });
}
