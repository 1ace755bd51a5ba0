import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmpty, IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { PageOf } from '../platform/http/pagination.js';
import { MODEL_CLASS_ID_PATTERN, MODEL_CLASS_ID_RULE } from '../markets/instrument-terms.js';
import { NODE_STATUSES, type NodeStatus } from './inference-node.entity.js';
import { IsEd25519PublicKey } from './public-key.validator.js';

/** Ten million tokens a second: more than any one server serves, small enough to sum safely. */
const MAX_NODE_TOKENS_PER_SECOND = 10_000_000;

/** An http(s) URL the exchange can reach: a host name or IP, no user:password. */
const httpUrl = (field: string) =>
  IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, disallow_auth: true, allow_underscores: true },
    { message: `${field} must be an http:// or https:// URL` },
  );

export class RegisterNodeDto {
  @ApiProperty({ example: 'llama-3.1-70b-instruct' })
  @IsString() @Matches(MODEL_CLASS_ID_PATTERN, { message: `modelClassId must be ${MODEL_CLASS_ID_RULE}` })
  modelClassId: string;

  @ApiProperty({ example: 'https://gpu-7.acme.example/v1', maxLength: 2048, description: 'Base URL of its OpenAI-compatible API' })
  @IsString() @MaxLength(2048) @httpUrl('baseUrl')
  baseUrl: string;

  @ApiProperty({ example: 'https://gpu-7.acme.example/metrics', maxLength: 2048, description: 'Its Prometheus metrics' })
  @IsString() @MaxLength(2048) @httpUrl('metricsUrl')
  metricsUrl: string;

  @ApiProperty({
    example: 'MCowBQYDK2VwAyEAxn8usOJ8FdRVVUcKAR5iXRXJXI0gEjpsPn8RVoZ7Nos=',
    maxLength: 1000,
    description: 'Ed25519 public key that signs its usage batches: base64 of the SPKI DER, or PEM. It cannot change later.',
  })
  @IsString() @MaxLength(1000) @IsEd25519PublicKey()
  publicKey: string;

  @ApiProperty({ example: 5000, minimum: 1, maximum: MAX_NODE_TOKENS_PER_SECOND, description: 'Declared capacity, completion tokens per second over all requests' })
  @IsInt() @Min(1) @Max(MAX_NODE_TOKENS_PER_SECOND)
  tokensPerSecond: number;

  @ApiPropertyOptional({ example: 'gpu-7 (8×H100)', maxLength: 100 })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(100) @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;
}

export class UpdateNodeDto {
  @ApiPropertyOptional({ enum: NODE_STATUSES, description: 'Disabled nodes count for no capacity' })
  @IsOptional() @IsIn(NODE_STATUSES)
  status?: NodeStatus;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_NODE_TOKENS_PER_SECOND })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_NODE_TOKENS_PER_SECOND)
  tokensPerSecond?: number;

  @ApiPropertyOptional({ maxLength: 2048 })
  @IsOptional() @IsString() @MaxLength(2048) @httpUrl('baseUrl')
  baseUrl?: string;

  @ApiPropertyOptional({ maxLength: 2048 })
  @IsOptional() @IsString() @MaxLength(2048) @httpUrl('metricsUrl')
  metricsUrl?: string;

  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(100) @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  /** Named so the refusal says what to do instead of "unknown field". */
  @ApiHideProperty()
  @IsEmpty({ message: 'publicKey cannot change: register a new node with the new key, then disable this one' })
  publicKey?: never;
}

export class NodeView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) providerId: string;
  @ApiProperty({ example: 'llama-3.1-70b-instruct' }) modelClassId: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty() baseUrl: string;
  @ApiProperty() metricsUrl: string;
  @ApiProperty({ description: 'Ed25519, base64 of the SPKI DER' }) publicKey: string;
  @ApiProperty({ example: 5000 }) tokensPerSecond: number;
  @ApiProperty({ enum: NODE_STATUSES }) status: NodeStatus;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class NodePage extends PageOf(NodeView) {}
