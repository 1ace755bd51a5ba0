import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ForwardTerms, InstrumentSpec } from '../markets/instrument-terms.js';
import { NodesService } from '../nodes/nodes.service.js';
import { auditEventSql } from '../platform/audit/audit-trail.js';
import type { BookCommand } from '../orders/core/book-commands.js';
import type { OrderFields } from '../matching/index.js';
import type { BatchPlan, BookState } from '../orders/core/plan-batch.js';
import { ProductCatalog, type ProductShell } from '../orders/products.js';
import { spreadOverDays } from './core/capacity.js';
import { type ForwardBook, type ForwardCapacity, type ForwardChanges, type ForwardFacts, forwardBook, type OpenOrders } from './core/forward-book.js';
import { FORWARD_COMMANDS, topUpTransferId } from './core/forward-commands.js';
import { FORWARD_RULES } from './core/forward-rules.js';
import { notionalMicros } from '../markets/price.js';
import { periodDays } from './core/sell-capacity.js';
import { MarkFactsReader } from './mark-facts.js';
import { insertMarginEventsSql, insertMarksSql, POSITION_COLUMNS, type PositionRecord, toPosition, upsertPositionsSql } from './forward-sql.js';

const DAY_MS = 86_400_000;

/**
 * The forward product's shell on the order path: it loads a contract's positions with its book,
 * reads what a batch needs (callers' roles, selling providers' capacity across every contract and
 * their spot deliveries, a mark's inputs), and writes positions, marks and margin events in the
 * batch's commit. Registered with the order path's catalog when the module starts.
 */
@Injectable()
export class ForwardProduct implements ProductShell, OnModuleInit {
  readonly rules = FORWARD_RULES;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly catalog: ProductCatalog,
    private readonly nodes: NodesService,
    private readonly markFacts: MarkFactsReader,
  ) {}

  onModuleInit(): void {
    this.catalog.register(this);
  }

  async load(dataSource: DataSource, spec: InstrumentSpec, state: BookState): Promise<ForwardBook> {
    const terms = spec as ForwardTerms;
    const [rows, [mark]]: [PositionRecord[], Array<{ day: string; price_ticks: string }>] = await Promise.all([
      dataSource.query(`SELECT ${POSITION_COLUMNS} FROM forward_positions WHERE instrument = $1`, [terms.symbol]),
      dataSource.query(`SELECT day::text, price_ticks::text FROM forward_marks WHERE instrument = $1 ORDER BY day DESC LIMIT 1`, [terms.symbol]),
    ]);
    const open = new Map<string, OpenOrders>();
    // The engine's resting orders are the open ones, walked without decoding their live orders.
    const add = (order: OrderFields) => {
      const o = open.get(order.owner) ?? { buys: 0n, sells: 0n, buyLots: 0, sellLots: 0 };
      const lots = order.remaining;
      const notional = notionalMicros(order.priceTicks, lots, terms);
      open.set(order.owner, order.side === 'buy' ? { ...o, buys: o.buys + notional, buyLots: o.buyLots + lots } : { ...o, sells: o.sells + notional, sellLots: o.sellLots + lots });
    };
    state.book.forEachOrder('buy', add);
    state.book.forEachOrder('sell', add);
    return forwardBook(terms, rows.map(toPosition), open, mark && { day: mark.day, priceTicks: Number(mark.price_ticks) });
  }

  participants(kept: unknown): string[] {
    return [...(kept as ForwardBook).positions.keys()];
  }

  async facts(state: BookState, spec: InstrumentSpec, commands: readonly BookCommand[], now: number): Promise<ForwardFacts> {
    const terms = spec as ForwardTerms;
    const traders = [...new Set(commands.flatMap((c) => (c.kind === 'place' || c.kind === 'amend' ? [c.participantId] : [])))];
    const sellers = [
      ...new Set(commands.flatMap((c) => ((c.kind === 'place' && c.side === 'sell') || (c.kind === 'amend' && state.orders.get(c.orderId)?.side === 'sell') ? [c.participantId] : []))),
    ];
    const markCommand = commands.find((c) => c.kind === 'product' && c.name !== FORWARD_COMMANDS.topUp);
    const topUps = commands.flatMap((c) => (c.kind === 'product' && c.name === FORWARD_COMMANDS.topUp ? [topUpTransferId(String(c.payload.key))] : []));
    const [roles, capacity, mark, topUpsMade] = await Promise.all([
      this.roles(traders),
      this.capacity(terms, sellers),
      markCommand?.kind === 'product' ? this.markFacts.read(terms, state.product as ForwardBook, markCommand, now) : undefined,
      this.transfersMade(topUps),
    ]);
    return { roles, capacity, topUpsMade, ...(mark ? { mark, spendable: mark.spendable } : {}) };
  }

  private async transfersMade(ids: string[]): Promise<Map<string, bigint>> {
    if (ids.length === 0) return new Map();
    const rows: Array<{ id: string; amount: string }> = await this.dataSource.query(`SELECT id, amount::text FROM transfers WHERE id = ANY($1::text[])`, [ids]);
    return new Map(rows.map((r) => [r.id, BigInt(r.amount)]));
  }

  commitSql(terms: InstrumentSpec, plan: BatchPlan): string[] {
    const changes = plan.product as ForwardChanges | undefined;
    if (!changes) return [];
    return [
      upsertPositionsSql(terms.symbol, changes.positions),
      ...insertMarksSql(terms.symbol, changes.marks),
      insertMarginEventsSql(terms.symbol, changes.calls),
      ...(changes.expiry ? this.markFacts.expirySql(terms as ForwardTerms, changes) : []),
      ...changes.audits.map((a) => auditEventSql({ ...a, subjectType: 'instrument', subjectId: terms.symbol })),
    ].filter((sql): sql is string => sql !== undefined);
  }

  private async roles(ids: string[]): Promise<ForwardFacts['roles']> {
    if (ids.length === 0) return new Map();
    const rows: Array<{ id: string; roles: string[] }> = await this.dataSource.query(`SELECT id, roles FROM participants WHERE id = ANY($1::uuid[])`, [ids]);
    return new Map(rows.map((r) => [r.id, { provider: r.roles.includes('provider'), buyer: r.roles.includes('buyer') }]));
  }

  /**
   * Selling providers' nodes for the model class, and what each has already committed on every day
   * of this contract's period: its shorts and open sells on the model class's other forwards
   * (each spread over its own period), and its open deliveries on the days their windows touch.
   */
  private async capacity(terms: ForwardTerms, providers: string[]): Promise<Map<string, ForwardCapacity>> {
    if (providers.length === 0) return new Map();
    const start = terms.deliveryStart.toISOString();
    const end = terms.deliveryEnd.toISOString();
    const [nodes, contracts, deliveries]: [
      Awaited<ReturnType<NodesService['enabledCapacities']>>,
      Array<{ participant_id: string; delivery_start: Date; delivery_end: Date; tokens: string }>,
      Array<{ provider_id: string; window_start: Date; window_end: Date; tokens: string }>,
    ] = await Promise.all([
      this.nodes.enabledCapacities(providers, terms.modelClassId),
      this.dataSource.query(
        `SELECT c.participant_id, i.delivery_start, i.delivery_end, (c.lots * i.lot_tokens)::text AS tokens
           FROM (SELECT instrument, participant_id, sum(lots) AS lots FROM (
                   SELECT instrument, participant_id, -lots AS lots FROM forward_positions WHERE participant_id = ANY($1::uuid[]) AND lots < 0
                   UNION ALL
                   SELECT instrument, participant_id, quantity_lots - filled_lots FROM orders
                    WHERE participant_id = ANY($1::uuid[]) AND status = 'open' AND side = 'sell') x GROUP BY instrument, participant_id) c
           JOIN instruments i ON i.symbol = c.instrument
          WHERE i.kind = 'forward' AND i.model_class_id = $2 AND i.symbol <> $3 AND i.delivery_start < $5 AND i.delivery_end > $4`,
        [providers, terms.modelClassId, terms.symbol, start, end],
      ),
      this.dataSource.query(
        `SELECT provider_id, window_start, window_end, (quantity_tokens - delivered_tokens)::text AS tokens FROM deliveries
          WHERE provider_id = ANY($1::uuid[]) AND model_class_id = $2 AND status = 'open' AND window_start < $4 AND window_end > $3`,
        [providers, terms.modelClassId, start, end],
      ),
    ]);
    const committed = new Map<string, Map<number, bigint>>(providers.map((p) => [p, new Map()]));
    const add = (provider: string, day: number, tokens: bigint) => {
      const days = committed.get(provider)!;
      days.set(day, (days.get(day) ?? 0n) + tokens);
    };
    for (const c of contracts) {
      const days = periodDays({ deliveryStart: c.delivery_start, deliveryEnd: c.delivery_end });
      spreadOverDays(BigInt(c.tokens), days.length).forEach((tokens, i) => add(c.participant_id, days[i], tokens));
    }
    for (const d of deliveries) {
      // A delivery's remaining tokens count on every day its window touches: it may be drawn on any of them.
      for (let day = Math.floor(d.window_start.getTime() / DAY_MS); day * DAY_MS < d.window_end.getTime(); day++) add(d.provider_id, day, BigInt(d.tokens));
    }
    return new Map(
      providers.map((p) => [p, { activeNodes: nodes.get(p)?.activeNodes ?? 0, tokensPerSecond: nodes.get(p)?.tokensPerSecond ?? 0n, committedTokensByDay: committed.get(p)! }]),
    );
  }
}
