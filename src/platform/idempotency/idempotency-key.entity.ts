import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * The first answer to a request sent with an `Idempotency-Key`, written in the same transaction
 * as the request's effects: a retry gets the same answer, a different body under the same key a 409.
 */
@Entity('idempotency_keys')
export class IdempotencyKey {
  @PrimaryColumn('uuid', { name: 'participant_id' })
  participantId: string;

  @PrimaryColumn('text')
  key: string;

  /** SHA-256 of the method, route and canonical body. */
  @Column('bytea', { name: 'request_hash' })
  requestHash: Buffer;

  @Column('integer', { name: 'status_code' })
  statusCode: number;

  @Column('jsonb', { name: 'response_body' })
  responseBody: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
