import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { formatUsd } from '../common/money.js';
import { PageOf, PageQuery } from '../platform/http/pagination.js';
import { uuidParam } from '../platform/http/params.js';
import { CurrentPrincipal, type Principal, Roles } from '../platform/http/auth.js';
import { LedgerAuditService, type StoredTrialBalance } from './ledger-audit.service.js';
import { LedgerInspector } from './ledger-inspector.js';
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

export class AccountBalanceView {
  @ApiProperty() id: string;
  @ApiProperty({ nullable: true, type: String }) participantId: string | null;
  @ApiProperty() kind: string;
  @ApiProperty() balance: string;
  @ApiProperty() pendingDebits: string;
  @ApiProperty() pendingCredits: string;
}

class AccountPage extends PageOf(AccountBalanceView) {}

class AuditView {
  @ApiProperty() sound: boolean;
  @ApiProperty({ type: TrialBalanceView }) trialBalance: TrialBalanceView;
  @ApiProperty({ description: 'Accounts whose stored totals differ from a rebuild from transfers' }) mismatches: object[];
  @ApiProperty() checkedAt: string;
}

export class TransferView {
  @ApiProperty() id: string;
  @ApiProperty() code: string;
  @ApiProperty({ nullable: true, type: String }) ref: string | null;
  @ApiProperty({ description: 'Which of the caller\'s accounts moved' }) account: string;
  @ApiProperty({ example: '-12.500000', description: 'Signed change of that account (pending: reserved, not moved)' }) amount: string;
  @ApiProperty({ enum: ['posted', 'pending', 'voided'] }) phase: string;
  @ApiProperty() createdAt: string;
}

class TransferPage extends PageOf(TransferView) {}

class ParticipantBalancesView {
  @ApiProperty({ example: '12.500000', description: 'Cash that can be spent or withdrawn now' }) available: string;
  @ApiProperty({ description: 'Reserved for open orders and pending withdrawals' }) held: string;
  @ApiProperty() escrow: string;
  @ApiProperty() margin: string;
  @ApiProperty() bond: string;
}

class ParticipantLedgerView {
  @ApiProperty({ format: 'uuid' }) participantId: string;
  @ApiProperty({ type: ParticipantBalancesView, description: 'As GET /v1/me shows them to the participant' }) balances: ParticipantBalancesView;
  @ApiProperty({ type: AccountBalanceView, isArray: true }) accounts: AccountBalanceView[];
  @ApiProperty({ type: TransferPage, description: 'Its statement, newest first: pass transfers.nextCursor as ?cursor=' }) transfers: TransferPage;
}

class AccountRefView {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'escrow' }) kind: string;
  @ApiProperty({ nullable: true, type: String, description: "The owner; null for the exchange's own accounts" }) participantId: string | null;
}

class TransferResolutionView {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['posted', 'voided'] }) phase: string;
  @ApiProperty() amount: string;
  @ApiProperty() createdAt: string;
}

class TransferDetailView {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'Order of recording' }) seq: string;
  @ApiProperty() code: string;
  @ApiProperty({ nullable: true, type: String }) ref: string | null;
  @ApiProperty({ example: '12.500000' }) amount: string;
  @ApiProperty({ type: String, isArray: true, example: ['pending'], description: 'linked, pending, post_pending, void_pending' }) flags: string[];
  @ApiProperty({ enum: ['posted', 'pending', 'voided'] }) phase: string;
  @ApiProperty({ type: AccountRefView }) debit: AccountRefView;
  @ApiProperty({ type: AccountRefView }) credit: AccountRefView;
  @ApiProperty({ nullable: true, type: String, description: 'The hold this transfer posts or voids' }) pendingId: string | null;
  @ApiProperty({ type: TransferResolutionView, nullable: true, description: 'For a hold: the transfer that posted or voided it' }) resolvedBy: TransferResolutionView | null;
  @ApiProperty() createdAt: string;
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
    private readonly inspector: LedgerInspector,
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
  accounts(@Query() query: PageQuery): Promise<AccountPage> {
    return this.ledger.listAccounts(query);
  }

  @Get('admin/ledger/transfers/:id')
  @Roles('admin')
  @ApiOperation({ summary: 'Any transfer by id: both accounts with their owners and kinds, amount, code, reference, flags, the hold it resolves or that resolved it' })
  @ApiOkResponse({ type: TransferDetailView })
  transfer(@Param('id') id: string): Promise<TransferDetailView> {
    return this.inspector.transferById(id);
  }

  @Get('admin/participants/:id/ledger')
  @Roles('admin')
  @ApiOperation({ summary: "A participant's accounts with their balances, and its transfers, newest first, page by page" })
  @ApiOkResponse({ type: ParticipantLedgerView })
  participantLedger(@uuidParam('id') id: string, @Query() query: PageQuery): Promise<ParticipantLedgerView> {
    return this.inspector.participantLedger(id, query);
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
  statement(@CurrentPrincipal() actor: Principal, @Query() query: PageQuery): Promise<TransferPage> {
    return this.ledger.statementOf(actor.participantId, query);
  }
}
