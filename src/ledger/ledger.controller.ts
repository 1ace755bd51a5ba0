import { Controller, Get, Post, HttpCode, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { formatUsd } from '../common/money.js';
import { decodeCursor, pageLimit, pageOf, PageQuery } from '../http/pagination.js';
import { CurrentPrincipal, type Principal, Roles } from '../participants/principal.js';
import { LedgerAuditService, type StoredTrialBalance } from './ledger-audit.service.js';
import { LedgerService } from './ledger.service.js';

class KindTotalView {
  @ApiProperty() kind: string;
  @ApiProperty() accounts: number;
  @ApiProperty({ example: '-1500.000000' }) balance: string;
  @ApiProperty() pendingDebits: string;
  @ApiProperty() pendingCredits: string;
}

class TrialBalanceView {
  @ApiProperty({ type: KindTotalView, isArray: true, description: 'Every account kind with the sum of its accounts' })
  byKind: KindTotalView[];
  @ApiProperty({ example: '0.000000', description: 'Sum of every account balance: always zero' }) postedSum: string;
  @ApiProperty({ example: '0.000000', description: 'Sum of pending credits less pending debits: always zero' }) pendingSum: string;
  @ApiProperty() balanced: boolean;
}

class AccountBalanceView {
  @ApiProperty() id: string;
  @ApiProperty({ nullable: true, type: String }) participantId: string | null;
  @ApiProperty() kind: string;
  @ApiProperty() balance: string;
  @ApiProperty() pendingDebits: string;
  @ApiProperty() pendingCredits: string;
}

class AccountPage {
  @ApiProperty({ type: AccountBalanceView, isArray: true }) items: AccountBalanceView[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

class AuditView {
  @ApiProperty() sound: boolean;
  @ApiProperty({ type: TrialBalanceView }) trialBalance: TrialBalanceView;
  @ApiProperty({ description: 'Accounts whose stored totals differ from a rebuild from transfers' }) mismatches: object[];
  @ApiProperty() checkedAt: string;
}

class TransferView {
  @ApiProperty() id: string;
  @ApiProperty() code: string;
  @ApiProperty({ nullable: true, type: String }) ref: string | null;
  @ApiProperty({ description: 'Which of the caller\'s accounts moved' }) account: string;
  @ApiProperty({ example: '-12.500000', description: 'Signed change of that account (pending: reserved, not moved)' }) amount: string;
  @ApiProperty({ enum: ['posted', 'pending', 'voided'] }) phase: string;
  @ApiProperty() createdAt: string;
}

class TransferPage {
  @ApiProperty({ type: TransferView, isArray: true }) items: TransferView[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

const trialBalanceView = (t: StoredTrialBalance): TrialBalanceView => ({
  byKind: t.byKind.map((k) => ({
    kind: k.kind,
    accounts: k.accounts,
    balance: formatUsd(k.balance),
    pendingDebits: formatUsd(k.pendingDebits),
    pendingCredits: formatUsd(k.pendingCredits),
  })),
  postedSum: formatUsd(t.postedSum),
  pendingSum: formatUsd(t.pendingSum),
  balanced: t.balanced,
});

@ApiTags('ledger')
@ApiBearerAuth()
@Controller('v1')
export class LedgerController {
  constructor(
    private readonly audit: LedgerAuditService,
    private readonly ledger: LedgerService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Get('admin/ledger/trial-balance')
  @Roles('admin')
  @ApiOperation({ summary: 'Balances summed by account kind, and their total: always zero' })
  @ApiOkResponse({ type: TrialBalanceView })
  async trialBalance(): Promise<TrialBalanceView> {
    return trialBalanceView(await this.audit.trialBalance());
  }

  @Get('admin/ledger/accounts')
  @Roles('admin')
  @ApiOperation({ summary: 'Every account with its balance, page by page' })
  @ApiOkResponse({ type: AccountPage })
  async accounts(@Query() query: PageQuery): Promise<AccountPage> {
    const limit = pageLimit(query);
    const after = decodeCursor(query.cursor, 1);
    const rows: Array<Record<string, string | null>> = await this.dataSource.query(
      `SELECT id, participant_id, kind, credits_posted - debits_posted AS balance, debits_pending, credits_pending
         FROM accounts WHERE $1::bigint IS NULL OR id > $1::bigint ORDER BY id LIMIT $2`,
      [after?.[0] ?? null, limit + 1],
    );
    return pageOf(rows, limit, (r) => [r.id!], (r) => ({
      id: r.id!,
      participantId: r.participant_id,
      kind: r.kind!,
      balance: formatUsd(BigInt(r.balance!)),
      pendingDebits: formatUsd(BigInt(r.debits_pending!)),
      pendingCredits: formatUsd(BigInt(r.credits_pending!)),
    }));
  }

  @Post('admin/ledger/audit')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Audit now: trial balance, and every account rebuilt from its transfers and compared' })
  @ApiOkResponse({ type: AuditView })
  async runAudit(): Promise<AuditView> {
    const audit = await this.audit.audit();
    return {
      sound: audit.sound,
      trialBalance: trialBalanceView(audit.trialBalance),
      mismatches: audit.mismatches.map((m) => ({
        accountId: String(m.accountId),
        stored: Object.fromEntries(Object.entries(m.stored).map(([k, v]) => [k, String(v)])),
        rebuilt: Object.fromEntries(Object.entries(m.rebuilt).map(([k, v]) => [k, String(v)])),
      })),
      checkedAt: audit.checkedAt.toISOString(),
    };
  }

  @Get('ledger/transfers')
  @ApiOperation({ summary: "The caller's account statement: every transfer that touched its accounts, newest first" })
  @ApiOkResponse({ type: TransferPage })
  async statement(@CurrentPrincipal() actor: Principal, @Query() query: PageQuery): Promise<TransferPage> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, 1);
    const accounts = await this.ledger.accountsOf(actor.participantId);
    const kindOf = new Map(Object.entries(accounts).map(([kind, id]) => [String(id), kind]));
    const ids = [...kindOf.keys()];
    const rows: Array<{ seq: string; id: string; code: string; ref: string | null; debit_account_id: string; credit_account_id: string; amount: string; flags: number; created_at: Date }> =
      await this.dataSource.query(
        `SELECT seq, id, code, ref, debit_account_id, credit_account_id, amount, flags, created_at FROM transfers
          WHERE (debit_account_id = ANY($1::bigint[]) OR credit_account_id = ANY($1::bigint[]))
            AND ($2::bigint IS NULL OR seq < $2::bigint)
          ORDER BY seq DESC LIMIT $3`,
        [ids, before?.[0] ?? null, limit + 1],
      );
    return pageOf(rows, limit, (r) => [r.seq], (r) => {
      const debited = kindOf.has(r.debit_account_id);
      const phase = r.flags & 2 ? 'pending' : r.flags & 8 ? 'voided' : 'posted';
      return {
        id: r.id,
        code: r.code,
        ref: r.ref,
        account: kindOf.get(debited ? r.debit_account_id : r.credit_account_id)!,
        amount: formatUsd(debited ? -BigInt(r.amount) : BigInt(r.amount)),
        phase,
        createdAt: r.created_at.toISOString(),
      };
    });
  }
}
