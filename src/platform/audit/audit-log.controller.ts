import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { Roles } from '../http/auth.js';
import { PageOf, PageQuery } from '../http/pagination.js';
import { AuditLog } from './audit-log.js';

export class AuditQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only actions by this participant' })
  @IsOptional() @IsUUID('all', { message: 'actor must be a participant id (UUID)' })
  actor?: string;

  @ApiPropertyOptional({ example: 'participant.suspend' })
  @IsOptional() @IsString() @MaxLength(100) @Matches(/^[a-z][a-z0-9_.-]*$/, { message: 'action must be an action name such as participant.suspend' })
  action?: string;

  @ApiPropertyOptional({ example: 'participant' })
  @IsOptional() @IsString() @MaxLength(100) @Matches(/^[a-z][a-z0-9_-]*$/, { message: 'subjectType must be a subject type such as participant' })
  subjectType?: string;

  @ApiPropertyOptional({ description: 'Only actions on this subject id' })
  @IsOptional() @IsString() @MaxLength(200)
  subject?: string;
}

export class AuditEventView {
  @ApiProperty() id: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'Who (null: the service itself)' }) actorId: string | null;
  @ApiProperty({ example: 'participant.suspend' }) action: string;
  @ApiProperty({ example: 'participant' }) subjectType: string;
  @ApiProperty() subjectId: string;
  @ApiProperty({ nullable: true, type: String, description: 'Why, as the actor gave it' }) reason: string | null;
  @ApiProperty({ type: Object }) details: Record<string, unknown>;
  @ApiProperty() createdAt: string;
}

class AuditEventPage extends PageOf(AuditEventView) {}

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/admin')
export class AuditLogController {
  constructor(private readonly log: AuditLog) {}

  @Get('audit-events')
  @Roles('admin')
  @ApiOperation({ summary: 'The audit trail of administrative actions, newest first' })
  @ApiOkResponse({ type: AuditEventPage })
  list(@Query() query: AuditQuery): Promise<AuditEventPage> {
    return this.log.list(query);
  }
}
