import { Controller, Get, Query } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { formatUsd } from '../common/money.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import { AdminSettlementQuery, SettlementPage, SettlementQuery, type SettlementView } from './settlements.dto.js';

interface SettlementRecord {
  id: string;
  key: string;
  kind: SettlementView['kind'];
  delivery_id: string;
  buyer_id: string;
  provider_id: string;
  tokens: string;
  amounts: Record<string, string>;
  transfer_ids: string[];
  status: SettlementView['status'];
  attempts: number;
  error: string | null;
  created_at: Date;
}

/** Settlement steps: each participant sees those of its own deliveries; an admin sees all, filtered. */
@ApiTags('settlement')
@ApiBearerAuth()
@Controller('v1')
export class SettlementsController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('settlements')
  @Roles('buyer', 'provider')
  @ApiOkResponse({ type: SettlementPage })
  mine(@CurrentPrincipal() actor: Principal, @Query() query: SettlementQuery): Promise<Page<SettlementView>> {
    return this.list(query, actor.participantId);
  }

  @Get('admin/settlements')
  @Roles('admin')
  @ApiOkResponse({ type: SettlementPage })
  all(@Query() query: AdminSettlementQuery): Promise<Page<SettlementView>> {
    return this.list(query, query.participantId);
  }

  private async list(query: SettlementQuery, participantId: string | undefined): Promise<Page<SettlementView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, 1);
    const rows: SettlementRecord[] = await this.dataSource.query(
      `SELECT id::text, key, kind, delivery_id, buyer_id, provider_id, tokens::text, amounts, transfer_ids, status, attempts, error, created_at
         FROM settlements
        WHERE ($1::uuid IS NULL OR buyer_id = $1 OR provider_id = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR status = $3)
          AND ($4::uuid IS NULL OR delivery_id = $4) AND ($5::bigint IS NULL OR id < $5::bigint)
        ORDER BY id DESC LIMIT $6`,
      [participantId ?? null, query.kind ?? null, query.status ?? null, query.deliveryId ?? null, before?.[0] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.id], (r) => ({
      id: r.id,
      key: r.key,
      kind: r.kind,
      deliveryId: r.delivery_id,
      buyerId: r.buyer_id,
      providerId: r.provider_id,
      tokens: Number(r.tokens),
      amounts: Object.fromEntries(Object.entries(r.amounts).map(([k, v]) => [k, formatUsd(BigInt(v))])),
      transferIds: r.transfer_ids,
      status: r.status,
      attempts: r.attempts,
      error: r.error,
      createdAt: r.created_at.toISOString(),
    }));
  }
}
