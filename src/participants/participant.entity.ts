import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

import { ROLES, type Role } from '../platform/http/auth.js';

export { ROLES, type Role };
export const PARTICIPANT_STATUSES = ['active', 'suspended'] as const;
export type ParticipantStatus = (typeof PARTICIPANT_STATUSES)[number];

@Entity('participants')
@Check('participants_roles_known', `roles <@ ARRAY['provider','buyer','admin']::text[] AND cardinality(roles) > 0`)
@Check('participants_status_known', `status IN ('active','suspended')`)
export class Participant {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text', { array: true })
  roles: Role[];

  @Column('text', { default: 'active' })
  status: ParticipantStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
