import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { PARTICIPANT_STATUSES, type ParticipantStatus, type Role, ROLES } from './participant.entity.js';

/** Roles as a list of one to three known, distinct roles. */
export const IsRoles = (): PropertyDecorator => (target, key) => {
  for (const decorate of [
    IsArray({ message: 'roles must be a list of roles' }),
    ArrayMinSize(1, { message: 'roles must name at least one role' }),
    ArrayMaxSize(3),
    ArrayUnique({ message: 'roles must not repeat a role' }),
    IsIn(ROLES, { each: true, message: `each value in roles must be one of: ${ROLES.join(', ')}` }),
  ]) decorate(target, key);
};

/** Why an admin acts: required on every admin action, kept in the audit trail. */
export const IsReason = (): PropertyDecorator => (target, key) => {
  for (const decorate of [
    IsString({ message: 'reason must be a string' }),
    MaxLength(500, { message: 'reason must be at most 500 characters' }),
    Matches(/\S/, { message: 'reason is required: say why' }),
  ]) decorate(target, key);
};

export class CreateParticipantDto {
  @ApiProperty({ example: 'Acme GPU Co', minLength: 1, maxLength: 200 })
  @IsString() @MinLength(1) @MaxLength(200) @Matches(/\S/, { message: 'name must not be blank' })
  name: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['provider'] })
  @IsRoles()
  roles: Role[];
}

export class AdminCreateParticipantDto extends CreateParticipantDto {
  @ApiProperty({ example: 'onboarding call 2026-11-20', maxLength: 500, description: 'Why: kept in the audit trail' })
  @IsReason()
  reason: string;
}

export class ReasonDto {
  @ApiProperty({ example: 'fraud review, ticket 4411', maxLength: 500, description: 'Why: kept in the audit trail' })
  @IsReason()
  reason: string;
}

export class ChangeRolesDto extends ReasonDto {
  @ApiProperty({ enum: ROLES, isArray: true, example: ['provider', 'buyer'], description: 'The new roles, replacing the old' })
  @IsRoles()
  roles: Role[];
}

export class AdminCreateApiKeyDto extends ReasonDto {
  @ApiPropertyOptional({ example: 'trading bot', maxLength: 100 })
  @IsOptional() @IsString() @MaxLength(100)
  label?: string;
}

export class ParticipantQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ROLES, description: 'Only participants holding this role' })
  @IsOptional() @IsIn(ROLES, { message: `role must be one of: ${ROLES.join(', ')}` })
  role?: Role;

  @ApiPropertyOptional({ enum: PARTICIPANT_STATUSES })
  @IsOptional() @IsIn(PARTICIPANT_STATUSES, { message: `status must be one of: ${PARTICIPANT_STATUSES.join(', ')}` })
  status?: ParticipantStatus;

  @ApiPropertyOptional({ description: 'Only names containing this text (any case)', maxLength: 200 })
  @IsOptional() @IsString() @MaxLength(200)
  name?: string;
}

export class UpdateParticipantDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200) @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  @ApiPropertyOptional({
    enum: PARTICIPANT_STATUSES,
    description: 'suspended participants are refused on every route; suspending also disables their nodes and cancels their open orders',
  })
  @IsOptional() @IsIn(PARTICIPANT_STATUSES)
  status?: ParticipantStatus;

  @ApiPropertyOptional({ enum: ROLES, isArray: true, description: 'The new roles, replacing the old' })
  @IsOptional() @IsRoles()
  roles?: Role[];

  @ApiProperty({ example: 'fraud review, ticket 4411', maxLength: 500, description: 'Why: kept in the audit trail' })
  @IsReason()
  reason: string;
}

export class CreateApiKeyDto {
  @ApiPropertyOptional({ example: 'trading bot', maxLength: 100 })
  @IsOptional() @IsString() @MaxLength(100)
  label?: string;

  @ApiPropertyOptional({ description: 'Rotation: revoke this key of the same participant in the same step', format: 'uuid' })
  @IsOptional() @IsUUID()
  replaces?: string;
}

export class ParticipantView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ROLES, isArray: true }) roles: Role[];
  @ApiProperty({ enum: PARTICIPANT_STATUSES }) status: ParticipantStatus;
  @ApiProperty() createdAt: string;
}

export class ApiKeyView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) participantId: string;
  @ApiProperty({ example: 'tkx_AbCdEfGh', description: 'The first characters of the key' }) prefix: string;
  @ApiProperty({ nullable: true, type: String }) label: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) revokedAt: string | null;
}

export class NewApiKeyView extends ApiKeyView {
  @ApiProperty({ description: 'The key itself: shown once, never again' }) key: string;
}

export class CreatedParticipantView {
  @ApiProperty({ type: ParticipantView }) participant: ParticipantView;
  @ApiProperty({ type: NewApiKeyView }) apiKey: NewApiKeyView;
}

export class BalancesView {
  @ApiProperty({ example: '100.000000', description: 'cash that can be spent or withdrawn now' }) available: string;
  @ApiProperty({ example: '0.000000', description: 'cash reserved for open orders and pending withdrawals' }) held: string;
  @ApiProperty({ example: '0.000000' }) escrow: string;
  @ApiProperty({ example: '0.000000' }) margin: string;
  @ApiProperty({ example: '0.000000' }) bond: string;
}

export class MeView extends ParticipantView {
  @ApiProperty({ type: BalancesView }) balances: BalancesView;
}

export class RateLimitView {
  @ApiProperty({ example: 100, description: 'Requests (or order commands) a second, over all the caller’s keys and ways in; 0: no limit' }) limit: number;
  @ApiProperty({ example: 87, nullable: true, type: Number, description: 'Left in this second after this request, as last counted; null when there is no limit' })
  remaining: number | null;
  @ApiProperty({ example: '2026-12-04T12:00:01.000Z', nullable: true, type: String, description: 'When the budget is whole again' }) resetsAt: string | null;
}

export class ParticipantPage extends PageOf(ParticipantView) {}

export class ParticipantChangeView {
  @ApiProperty({ type: ParticipantView }) participant: ParticipantView;
  @ApiProperty({ type: String, isArray: true, description: 'Nodes the suspension disabled' }) disabledNodeIds: string[];
  @ApiProperty({ type: String, isArray: true, description: 'Open orders the suspension cancelled, on every instrument' }) cancelledOrderIds: string[];
}

export class ApiKeyPage extends PageOf(ApiKeyView) {}
