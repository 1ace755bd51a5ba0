import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { IsUsdAmount } from '../platform/http/usd-amount.validator.js';
import { WITHDRAWAL_STATUSES, type WithdrawalStatus } from './withdrawal.entity.js';
import { PageOf, PageQuery } from '../platform/http/pagination.js';

export class CreateDepositDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  participantId: string;

  @ApiProperty({ example: '250.000000', description: 'USD, a decimal string with at most 6 decimals, more than zero' })
  @IsUsdAmount()
  amount: string;

  @ApiPropertyOptional({ example: 'wire 2026-11-26 #4411', maxLength: 200 })
  @IsOptional() @IsString() @MaxLength(200)
  reference?: string;
}

export class CreateWithdrawalDto {
  @ApiProperty({ example: '40.000000', description: 'USD from available cash, a decimal string with at most 6 decimals' })
  @IsUsdAmount()
  amount: string;
}

export class ResolveWithdrawalDto {
  @ApiProperty({ description: 'Payout reference (paid) or reason (rejected)', minLength: 1, maxLength: 500 })
  @IsString() @MinLength(1) @MaxLength(500)
  note: string;
}

export class WithdrawalQuery extends PageQuery {
  @ApiPropertyOptional({ enum: WITHDRAWAL_STATUSES })
  @IsOptional() @IsIn(WITHDRAWAL_STATUSES)
  status?: WithdrawalStatus;
}

export class DepositView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) participantId: string;
  @ApiProperty({ example: '250.000000' }) amount: string;
  @ApiProperty({ nullable: true, type: String }) reference: string | null;
  @ApiProperty({ format: 'uuid' }) recordedBy: string;
  @ApiProperty() createdAt: string;
}

export class InsuranceFundDepositDto {
  @ApiProperty({ example: '10000.000000', description: "USD the exchange puts into its insurance fund (the forwards' last resort before winners are cut)" })
  @IsUsdAmount()
  amount: string;

  @ApiPropertyOptional({ description: 'Where the money came from, for the audit trail' })
  @IsOptional() @IsString() @MaxLength(200)
  reference?: string;

  @ApiPropertyOptional({ description: 'Why the fund is topped up now, for the audit trail' })
  @IsOptional() @IsString() @MinLength(3) @MaxLength(500)
  reason?: string;
}

export class InsuranceFundView {
  @ApiProperty({ description: 'The insurance fund balance, USD' }) balance: string;
}

export class WithdrawalView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) participantId: string;
  @ApiProperty({ example: '40.000000' }) amount: string;
  @ApiProperty({ enum: WITHDRAWAL_STATUSES }) status: WithdrawalStatus;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) resolvedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) note: string | null;
}

export class DepositPage extends PageOf(DepositView) {}

export class WithdrawalPage extends PageOf(WithdrawalView) {}
