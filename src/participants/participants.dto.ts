import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { PageOf } from '../platform/http/pagination.js';
import { PARTICIPANT_STATUSES, type ParticipantStatus, type Role, ROLES } from './participant.entity.js';

export class CreateParticipantDto {
  @ApiProperty({ example: 'Acme GPU Co', minLength: 1, maxLength: 200 })
  @IsString() @MinLength(1) @MaxLength(200) @Matches(/\S/, { message: 'name must not be blank' })
  name: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['provider'] })
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(3) @ArrayUnique() @IsIn(ROLES, { each: true, message: `each value in roles must be one of: ${ROLES.join(', ')}` })
  roles: Role[];
}

export class UpdateParticipantDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200) @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  @ApiPropertyOptional({ enum: PARTICIPANT_STATUSES, description: 'suspended participants are refused on every route' })
  @IsOptional() @IsIn(PARTICIPANT_STATUSES)
  status?: ParticipantStatus;
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

export class ParticipantPage extends PageOf(ParticipantView) {}

export class ApiKeyPage extends PageOf(ApiKeyView) {}
