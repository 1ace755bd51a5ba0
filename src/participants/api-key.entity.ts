import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Participant } from './participant.entity.js';

/** An API key is shown once; only its SHA-256 hash and a short visible prefix are kept. */
@Entity('api_keys')
@Index('api_keys_participant_idx', ['participantId'])
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'participant_id' })
  participantId: string;

  @ManyToOne(() => Participant, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'participant_id' })
  participant?: Participant;

  /** The first characters of the key, so people can tell their keys apart. */
  @Column('text')
  prefix: string;

  @Index('api_keys_hash_key', { unique: true })
  @Column('bytea', { name: 'key_hash' })
  keyHash: Buffer;

  @Column('text', { nullable: true })
  label: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;
}
