import { Injectable } from '@nestjs/common';
import { notFound } from '../../common/domain-error.js';
import { type ContractSummary, ForwardOversight } from '../../forwards/forward-oversight.js';
import type { AdminPositionView, MarginEventView, MarkView } from '../../forwards/forwards.dto.js';
import { ForwardsService } from '../../forwards/forwards.service.js';
import { FundingService } from '../../funding/funding.service.js';
import type { InstrumentView } from '../../markets/markets.dto.js';
import { MarketsService } from '../../markets/markets.service.js';
import { Clock } from '../../platform/clock/clock.js';
import type { Page } from '../../platform/http/pagination.js';
import { type ContractState, contractState } from './core/contract-state.js';
import type { MarginCallsQuery, PositionsQuery } from './forwards-forms.js';

/** A contract as the console lists it: its terms as `GET /v1/instruments` gives them, its state and summary. */
export interface ContractRow {
  readonly instrument: InstrumentView;
  readonly state: ContractState;
  readonly summary: ContractSummary;
}

const ROWS = 50;
const NO_SUMMARY: ContractSummary = { lastMark: null, openInterest: 0, holders: 0, openCalls: 0, open: false };

/** What the forwards pages show, read through the same services as the admin API's routes. */
@Injectable()
export class ForwardsPageService {
  constructor(
    private readonly markets: MarketsService,
    private readonly forwards: ForwardsService,
    private readonly oversight: ForwardOversight,
    private readonly funding: FundingService,
    private readonly clock: Clock,
  ) {}

  async contracts(cursor: string | undefined): Promise<Page<ContractRow>> {
    const page = await this.markets.listInstruments({ kind: 'forward', limit: ROWS, cursor });
    return { items: await this.rows(page.items), nextCursor: page.nextCursor };
  }

  async contract(symbol: string, cursors: { positions?: string; marks?: string }) {
    const instrument = await this.markets.getInstrument(symbol);
    if (instrument.kind !== 'forward') throw notFound('INSTRUMENT_NOT_FOUND', `${symbol} is not a forward`);
    const [[contract], positions, marks] = await Promise.all([
      this.rows([instrument]),
      this.oversight.positions({ instrument: symbol, limit: ROWS, cursor: cursors.positions }),
      this.forwards.marks(symbol, { limit: ROWS, cursor: cursors.marks }),
    ]);
    const lastTradePassed = this.clock.now().getTime() >= new Date(instrument.lastTradeAt!).getTime();
    return { contract, positions, marks: { ...marks, items: marks.items.map(withInputs) }, lastTradePassed };
  }

  positions(query: PositionsQuery): Promise<Page<AdminPositionView>> {
    return this.oversight.positions({ instrument: query.instrument, participant: query.participant, limit: ROWS, cursor: query.cursor });
  }

  marginEvents(query: MarginCallsQuery): Promise<Page<MarginEventView>> {
    const status = query.status ?? (query.event ? 'all' : 'open');
    return this.forwards.marginEvents({ status, instrument: query.instrument, event: query.event && [query.event], limit: ROWS, cursor: query.cursor });
  }

  /** Defaults and the cuts they caused, newest first. */
  defaults(cursor: string | undefined): Promise<Page<MarginEventView>> {
    return this.forwards.marginEvents({ status: 'all', event: ['defaulted', 'cut'], limit: ROWS, cursor });
  }

  insuranceFund() {
    return this.funding.insuranceFund();
  }

  private async rows(instruments: InstrumentView[]): Promise<ContractRow[]> {
    const summaries = await this.oversight.summaries(instruments.map((i) => i.symbol));
    const now = this.clock.now();
    return instruments.map((instrument) => {
      const summary = summaries.get(instrument.symbol) ?? NO_SUMMARY;
      return { instrument, summary, state: contractState({ status: instrument.status, lastTradeAt: new Date(instrument.lastTradeAt!), open: summary.open }, now) };
    });
  }
}

/** A mark's inputs as name and text pairs, for a table cell (objects as JSON). */
function withInputs(mark: MarkView) {
  return { ...mark, inputList: Object.entries(mark.inputs).map(([name, value]) => ({ name, value: typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value) })) };
}
