import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { invalid, notFound } from '../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import type { TransferRequest } from '../ledger/core/index.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { MetricsService } from '../platform/observability/metrics.service.js';
import { NodeProber } from '../probes/node-prober.js';
import { slaBreach } from '../metering/core/verification.js';
import { closeDelivery, type DeliveryTerms, payoutBetween } from './core/delivery-money.js';

/** Deliveries settled per transaction: one lock set and one ledger write for all of them. */
const BATCH = 200;

interface DeliveryState {
  id: string;
  buyer_id: string;
  provider_id: string;
  model_class_id: string;
  quantity_tokens: string;
  notional_micros: string;
  seller_fee_micros: string;
  bond_micros: string;
  paid_tokens: string;
  disputed_tokens: string;
  window_start: Date;
  window_end: Date;
  /** Verified usage not yet paid, and its rows' ids. */
  unpaid_tokens: string;
  unpaid_ids: string[];
}

const DELIVERY_STATE = `d.id, d.buyer_id, d.provider_id, d.model_class_id, d.quantity_tokens::text, d.notional_micros::text,
  d.seller_fee_micros::text, d.bond_micros::text, d.paid_tokens::text, d.disputed_tokens::text, d.window_start, d.window_end,
  coalesce((SELECT sum(u.tokens) FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL), 0)::text AS unpaid_tokens,
  coalesce((SELECT array_agg(u.id) FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL), '{}') AS unpaid_ids`;

/** One settlement step, ready to write: its record, its transfers and the delivery's new totals. */
interface Step {
  readonly key: string;
  readonly kind: 'payout' | 'close';
  readonly delivery: DeliveryState;
  readonly tokens: bigint;
  readonly amounts: Record<string, bigint>;
  readonly transfers: TransferRequest[];
  readonly usageIds: readonly string[];
  readonly update: { paidTokens: bigint; paid: bigint; fee: bigint; refunded: bigint; penalty: bigint; outcome?: string };
}

/**
 * The settlement worker's money movements for spot deliveries (market-rules §5, docs/settlement.md).
 * Every step is driven by rows in PostgreSQL, not by the job that triggers it: a payout sweeps the
 * verified usage no payout has claimed, a close sweeps the windows past their end. Each batch is
 * one transaction that locks its deliveries (SKIP LOCKED, so workers share the work), moves the
 * money through the ledger, marks what it paid, and records the step, all or nothing. Transfer ids
 * and record keys derive from the delivery and the point its tokens were settled to, which only
 * grows, so a step that runs again (after a crash, twice, out of order) finds itself done.
 */
@Injectable()
export class SettlementService {
  private readonly logger = new Logger(SettlementService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerService,
    private readonly prober: NodeProber,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Records verified billable tokens served under a delivery (metering feeds this; tests call it).
   * `usageId` is the usage's business key: the same id twice counts once. Returns whether it was new.
   */
  async recordVerifiedUsage(usageId: string, deliveryId: string, tokens: bigint, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    if (tokens <= 0n) throw invalid('VALIDATION_FAILED', 'verified usage is a positive number of tokens', { fields: ['tokens'] });
    if ((await this.recordVerifiedUsages([{ id: usageId, deliveryId, tokens }], manager)) > 0) return true;
    const [exists] = await manager.query(`SELECT 1 FROM deliveries WHERE id = $1`, [deliveryId]);
    if (!exists) throw notFound('DELIVERY_NOT_FOUND', 'no such delivery');
    return false;
  }

  /**
   * Sweeps already running in this process: a scheduled sweep that finds the previous one still
   * going returns at once, rather than contend with it for the same accounts' locks (other
   * processes' sweeps take other deliveries: SKIP LOCKED).
   */
  private readonly sweeping = new Set<'payout' | 'close'>();

  /**
   * Records many verified usages in one statement (a verified usage batch): each id counts once,
   * and each delivery's `delivered_tokens` grows by what was new. Returns how many were new.
   */
  async recordVerifiedUsages(usages: ReadonlyArray<{ id: string; deliveryId: string; tokens: bigint }>, manager: EntityManager): Promise<number> {
    const positive = usages.filter((u) => u.tokens > 0n);
    if (positive.length === 0) return 0;
    const result: unknown[] = await manager.query(
      `WITH inserted AS (
         INSERT INTO delivery_usage (id, delivery_id, tokens)
         SELECT u.id, u.delivery_id, u.tokens FROM unnest($1::text[], $2::uuid[], $3::bigint[]) AS u(id, delivery_id, tokens)
           JOIN deliveries d ON d.id = u.delivery_id
         ON CONFLICT (id) DO NOTHING
         RETURNING delivery_id, tokens
       ), added AS (
         SELECT delivery_id, sum(tokens) AS tokens, count(*) AS n FROM inserted GROUP BY delivery_id
       )
       UPDATE deliveries d SET delivered_tokens = d.delivered_tokens + a.tokens FROM added a WHERE d.id = a.delivery_id RETURNING a.n::int AS n`,
      [positive.map((u) => u.id), positive.map((u) => u.deliveryId), positive.map((u) => String(u.tokens))],
    );
    const rows = (Array.isArray(result[0]) ? result[0] : result) as Array<{ n: number }>;
    return rows.reduce((sum, r) => sum + r.n, 0);
  }

  /** Pays out verified usage, a batch of deliveries per transaction, until none is left. Returns deliveries paid. */
  async payOutVerifiedUsage(): Promise<number> {
    return this.exclusive('payout', () => this.payOut());
  }

  private async exclusive(sweep: 'payout' | 'close', run: () => Promise<number>): Promise<number> {
    if (this.sweeping.has(sweep)) return 0;
    this.sweeping.add(sweep);
    try {
      return await run();
    } finally {
      this.sweeping.delete(sweep);
    }
  }

  private async payOut(): Promise<number> {
    let total = 0;
    for (;;) {
      const settled = await this.settleBatch(
        `d.status = 'open' AND EXISTS (SELECT 1 FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL)`,
        [],
        async (d) => [this.payoutStep(d)],
        'payout',
      );
      total += settled;
      if (settled < BATCH) return total;
    }
  }

  /** Closes every delivery whose window ended at least the grace period before `now`. Returns deliveries closed. */
  async closeDueWindows(now = new Date()): Promise<number> {
    return this.exclusive('close', () => this.close(now));
  }

  private async close(now: Date): Promise<number> {
    let total = 0;
    const due = new Date(now.getTime() - this.config.jobs.settlementCloseGraceMs);
    for (;;) {
      // A delivery with tokens under dispute waits for an admin before it closes (market-rules §7).
      const settled = await this.settleBatch(`d.status = 'open' AND d.window_end <= $1 AND d.disputed_tokens = 0`, [due], async (d, manager) => {
        const payout = this.payoutStep(d);
        const paidTokens = payout.update.paidTokens;
        const probes = await this.prober.evidence(d.provider_id, d.model_class_id, d.window_start, d.window_end, manager);
        // The buyer's requests the node failed or served out of the model class's SLA also count (market-rules §5).
        const [requests] = await manager.query(
          `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'error' OR within_sla = false)::int AS bad
             FROM usage_records r LEFT JOIN delivery_keys k ON k.id = r.key_id
            WHERE r.delivery_id = $1 AND k.kind IS DISTINCT FROM 'audit'`,
          [d.id],
        );
        const breach = probes.breach || slaBreach(requests.bad, requests.total);
        return [payout, this.closeStep(d, paidTokens, breach, { probes, requests })];
      }, 'close');
      total += settled;
      if (settled < BATCH) return total;
    }
  }

  /**
   * One transaction: lock up to BATCH deliveries matching `where` (skipping those another worker
   * holds), plan their steps, apply every transfer at once, then record. Returns deliveries locked.
   */
  private async settleBatch(
    where: string,
    params: unknown[],
    plan: (d: DeliveryState, manager: EntityManager) => Promise<Step[]>,
    step: 'payout' | 'close',
  ): Promise<number> {
    const started = performance.now();
    const count = await this.ledger.inTransaction(async (manager) => {
      // Lock first, then read: a statement reads with the snapshot it started with, so the state
      // read in the locking statement itself could predate a payout that committed while it ran,
      // and pay the same usage again. The second statement's snapshot comes after the locks.
      const locked: Array<{ id: string }> = await manager.query(
        `SELECT d.id FROM deliveries d WHERE ${where} ORDER BY d.window_end, d.id LIMIT ${BATCH} FOR UPDATE OF d SKIP LOCKED`,
        params,
      );
      if (locked.length === 0) return 0;
      const deliveries: DeliveryState[] = await manager.query(
        `SELECT ${DELIVERY_STATE} FROM deliveries d WHERE d.id = ANY($1::uuid[]) AND ${where.replaceAll('$1', '$2')} ORDER BY d.window_end, d.id`,
        [locked.map((r) => r.id), ...params],
      );
      const steps: Step[] = [];
      for (const d of deliveries) steps.push(...(await plan(d, manager)).filter((s) => s.tokens > 0n || s.kind === 'close' || s.usageIds.length > 0));
      const transfers: TransferRequest[][] = [];
      for (const s of steps) transfers.push(await this.withAccounts(s, manager));
      await this.ledger.transferOrThrow(manager, transfers.flat());
      await this.record(manager, steps, transfers);
      return locked.length;
    });
    if (count > 0) {
      this.metrics.settlementBatchSeconds.observe((performance.now() - started) / 1000);
      this.metrics.settledDeliveries.inc({ step }, count);
    }
    return count;
  }

  private terms(d: DeliveryState): DeliveryTerms {
    return { quantity: BigInt(d.quantity_tokens), notional: BigInt(d.notional_micros), sellerFee: BigInt(d.seller_fee_micros), bond: BigInt(d.bond_micros) };
  }

  /** Verified usage not yet paid: the tokens from `paid` up, capped where disputed tokens begin. */
  private payoutStep(d: DeliveryState): Step {
    const terms = this.terms(d);
    const paid = BigInt(d.paid_tokens);
    const ceiling = terms.quantity - BigInt(d.disputed_tokens);
    const wanted = paid + BigInt(d.unpaid_tokens);
    const to = wanted < ceiling ? wanted : ceiling; // usage beyond what was bought is not paid
    const p = payoutBetween(terms, paid, to);
    const key = `payout:${d.id}:${to}`;
    return {
      key: p.tokens > 0n ? key : `${key}:${d.unpaid_ids[0] ?? 'none'}`,
      kind: 'payout',
      delivery: d,
      tokens: p.tokens,
      amounts: { providerPayout: p.providerNet, providerFee: p.fee },
      transfers: [
        { id: `${key}:provider`, code: 'delivery-payout', amount: p.providerNet, ref: d.id } as TransferRequest,
        { id: `${key}:fee`, code: 'delivery-fee', amount: p.fee, ref: d.id } as TransferRequest,
      ],
      usageIds: d.unpaid_ids,
      update: { paidTokens: to, paid: p.providerNet, fee: p.fee, refunded: 0n, penalty: 0n },
    };
  }

  /** The window's close after `paid` tokens were paid (market-rules §5). */
  private closeStep(d: DeliveryState, paid: bigint, breach: boolean, evidence: Record<string, unknown>): Step {
    const terms = this.terms(d);
    const c = closeDelivery(terms, paid, BigInt(d.disputed_tokens), breach);
    const key = `close:${d.id}`;
    this.logger.log({ delivery: d.id, outcome: c.outcome, undelivered: String(c.undeliveredTokens), evidence }, 'delivery window closed');
    return {
      key,
      kind: 'close',
      delivery: d,
      tokens: c.undeliveredTokens,
      amounts: { providerPayout: c.payout.providerNet, providerFee: c.payout.fee, buyerRefund: c.refund, penalty: c.penalty, bondReleased: c.bondReleased },
      transfers: [
        { id: `${key}:provider`, code: 'delivery-take-or-pay', amount: c.payout.providerNet, ref: d.id } as TransferRequest,
        { id: `${key}:fee`, code: 'delivery-fee', amount: c.payout.fee, ref: d.id } as TransferRequest,
        { id: `${key}:refund`, code: 'delivery-refund', amount: c.refund, ref: d.id } as TransferRequest,
        { id: `${key}:penalty`, code: 'delivery-penalty', amount: c.penalty, ref: d.id } as TransferRequest,
        { id: `${key}:bond`, code: 'delivery-bond-release', amount: c.bondReleased, ref: d.id } as TransferRequest,
      ],
      usageIds: [],
      update: {
        paidTokens: c.outcome === 'take_or_pay' ? paid + c.undeliveredTokens : paid,
        paid: c.payout.providerNet,
        fee: c.payout.fee,
        refunded: c.refund,
        penalty: c.penalty,
        outcome: c.outcome,
      },
    };
  }

  /** Fills in each transfer's accounts by what it is (code), and drops the zero ones. */
  private async withAccounts(step: Step, manager: EntityManager): Promise<TransferRequest[]> {
    const buyer = await this.ledger.accountsOf(step.delivery.buyer_id, manager);
    const provider = await this.ledger.accountsOf(step.delivery.provider_id, manager);
    const fees = await this.ledger.systemAccount('fees');
    const route: Record<string, [bigint, bigint]> = {
      'delivery-payout': [buyer.escrow, provider.available],
      'delivery-take-or-pay': [buyer.escrow, provider.available],
      'delivery-fee': [buyer.escrow, fees],
      'delivery-refund': [buyer.escrow, buyer.available],
      'delivery-penalty': [provider.bond, buyer.available],
      'delivery-bond-release': [provider.bond, provider.available],
    };
    return step.transfers
      .filter((t) => (t.amount ?? 0n) > 0n)
      .map((t) => ({ ...t, debitAccountId: route[t.code][0], creditAccountId: route[t.code][1] }));
  }

  /** The steps' records, the usage they paid, and the deliveries' new totals, in two statements. */
  private async record(manager: EntityManager, steps: Step[], transfers: TransferRequest[][]): Promise<void> {
    if (steps.length === 0) return;
    const transferIds = transfers.map((list) => list.map((t) => t.id));
    const inserted: Array<{ id: string; key: string }> = await manager.query(
      `INSERT INTO settlements (key, kind, delivery_id, buyer_id, provider_id, tokens, amounts, transfer_ids, status)
       SELECT k, kind, delivery_id, buyer_id, provider_id, tokens, amounts, ARRAY(SELECT jsonb_array_elements_text(ids)), 'done'
         FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::bigint[], $7::jsonb[], $8::jsonb[])
           AS s(k, kind, delivery_id, buyer_id, provider_id, tokens, amounts, ids)
       RETURNING id::text, key`,
      [
        steps.map((s) => s.key),
        steps.map((s) => s.kind),
        steps.map((s) => s.delivery.id),
        steps.map((s) => s.delivery.buyer_id),
        steps.map((s) => s.delivery.provider_id),
        steps.map((s) => String(s.tokens)),
        steps.map((s) => JSON.stringify(Object.fromEntries(Object.entries(s.amounts).map(([k, v]) => [k, String(v)])))),
        transferIds.map((ids) => JSON.stringify(ids)),
      ],
    );
    const idOf = new Map(inserted.map((r) => [r.key, r.id]));
    const paidUsage = steps.flatMap((s) => s.usageIds.map((u) => [u, idOf.get(s.key)!] as const));
    if (paidUsage.length > 0) {
      const [, marked] = await manager.query(
        `UPDATE delivery_usage u SET payout_id = v.payout FROM unnest($1::text[], $2::bigint[]) AS v(id, payout) WHERE u.id = v.id AND u.payout_id IS NULL`,
        [paidUsage.map(([u]) => u), paidUsage.map(([, p]) => p)],
      );
      // Usage another transaction paid meanwhile would be paid twice: refuse the whole batch.
      if (marked !== paidUsage.length) throw new Error(`settlement raced: ${paidUsage.length - marked} usage records were paid meanwhile`);
    }
    // Several steps of one delivery (a payout, then its close) add up in order.
    const totals = new Map<string, { paidTokens: bigint; paid: bigint; fee: bigint; refunded: bigint; penalty: bigint; outcome: string | null }>();
    for (const s of steps) {
      const t = totals.get(s.delivery.id) ?? { paidTokens: BigInt(s.delivery.paid_tokens), paid: 0n, fee: 0n, refunded: 0n, penalty: 0n, outcome: null };
      totals.set(s.delivery.id, {
        paidTokens: s.update.paidTokens,
        paid: t.paid + s.update.paid,
        fee: t.fee + s.update.fee,
        refunded: t.refunded + s.update.refunded,
        penalty: t.penalty + s.update.penalty,
        outcome: s.update.outcome ?? t.outcome,
      });
    }
    const ids = [...totals.keys()];
    const v = ids.map((id) => totals.get(id)!);
    await manager.query(
      `UPDATE deliveries d
          SET paid_tokens = v.paid_tokens, paid_micros = d.paid_micros + v.paid, fee_paid_micros = d.fee_paid_micros + v.fee,
              refunded_micros = d.refunded_micros + v.refunded, penalty_micros = d.penalty_micros + v.penalty,
              outcome = coalesce(v.outcome, d.outcome),
              status = CASE WHEN v.outcome IS NULL THEN d.status ELSE 'closed' END,
              closed_at = CASE WHEN v.outcome IS NULL THEN d.closed_at ELSE now() END
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[])
           AS v(id, paid_tokens, paid, fee, refunded, penalty, outcome)
        WHERE d.id = v.id`,
      [
        ids,
        v.map((t) => String(t.paidTokens)),
        v.map((t) => String(t.paid)),
        v.map((t) => String(t.fee)),
        v.map((t) => String(t.refunded)),
        v.map((t) => String(t.penalty)),
        v.map((t) => t.outcome),
      ],
    );
  }
}
