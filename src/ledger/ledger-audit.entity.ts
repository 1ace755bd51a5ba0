import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/** One ledger audit's verdict, kept so any process can show the last one. */
@Entity('ledger_audits')
@Index('ledger_audits_checked_idx', ['checkedAt'])
export class LedgerAuditRow {
  @PrimaryColumn('bigint', { generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintColumn, primaryKeyConstraintName: 'PK_ledger_audits' })
  id: bigint;

  /** Why it ran: `scheduled`, `admin`, ... */
  @Column('text')
  reason: string;

  @Column('boolean')
  sound: boolean;

  @Column('bigint', { name: 'posted_sum', transformer: bigintColumn })
  postedSum: bigint;

  @Column('bigint', { name: 'pending_sum', transformer: bigintColumn })
  pendingSum: bigint;

  /** Accounts whose stored totals differ from a rebuild from their transfers. */
  @Column('integer')
  mismatches: number;

  @Column('timestamptz', { name: 'checked_at' })
  checkedAt: Date;
}
