import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../platform/database/bigint.transformer.js';

/**
 * Insert-only: a transfer is never updated or deleted. `seq` orders the history.
 *
 * No foreign keys to `accounts`: every account a transfer names was locked in the transaction
 * that writes it (the core refuses unknown accounts), accounts are never deleted, and the ledger
 * audit's rebuild would show a transfer to a missing account as a mismatch. The two FK checks
 * per row cost a fifth of the ledger's batched throughput (docs/benchmarks.md).
 */
@Entity('transfers')
@Index('transfers_pending_id_key', ['pendingId'], { unique: true, where: 'pending_id IS NOT NULL' })
@Index('transfers_debit_account_idx', ['debitAccountId', 'seq'])
@Index('transfers_credit_account_idx', ['creditAccountId', 'seq'])
@Check('transfers_amount_positive', 'amount > 0')
@Check('transfers_accounts_differ', 'debit_account_id <> credit_account_id')
export class TransferRow {
  @PrimaryColumn('text')
  id: string;

  /** Order of recording (a sequence: unique without an index of its own; the account indexes carry it). */
  @Column('bigint', { generated: 'increment', transformer: bigintColumn })
  seq: bigint;

  @Column('bigint', { name: 'debit_account_id', transformer: bigintColumn })
  debitAccountId: bigint;

  @Column('bigint', { name: 'credit_account_id', transformer: bigintColumn })
  creditAccountId: bigint;

  @Column('bigint', { transformer: bigintColumn })
  amount: bigint;

  @Column('text', { name: 'pending_id', nullable: true })
  pendingId: string | null;

  @Column('integer')
  flags: number;

  @Column('text')
  code: string;

  @Column('text', { nullable: true })
  ref: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
