import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { DeliveriesRepository } from '../deliveries/deliveries.repository.js';
import type { AccountId, TransferRequest } from '../ledger/core/index.js';
import { LedgerRaceError } from '../ledger/ledger.repository.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { auditEvidence, type AuditEvidence } from '../metering/audit-evidence.js';
import { requestEvidence, type RequestEvidence } from '../metering/request-evidence.js';
import { VerifiedUsageRepository } from '../metering/verified-usage.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { isDeadlockOrSerializationFailure } from '../platform/database/pg-errors.js';
import { MetricsService } from '../platform/observability/metrics.service.js';
import { NodeProbesRepository } from '../probes/node-probes.repository.js';
import type { ProbeVerdict } from '../probes/probe-evidence.js';
import { batchTotals, closeStep, isWorthRecording, payoutStep, type Step } from './core/settlement-steps.js';
import { DELIVERY_STATE, type DeliveryState, insertSettlements, NO_FAILED_STEP, positionOf, type StepOutcome } from './settlement-sql.js';
import { stepTransfers } from './step-transfers.js';

/** Deliveries settled per transaction: one lock set and one ledger write for all of them. */
const BATCH = 200;

/** What a payout sweeps: open deliveries with verified usage no payout has claimed. */
const PAYABLE = `d.status = 'open' AND EXISTS (SELECT 1 FROM delivery_usage u WHERE u.delivery_id = d.id AND u.payout_id IS NULL)`;
/** A delivery with tokens under dispute waits for an admin before it closes (market-rules §7). */
const UNDISPUTED = `d.status = 'open' AND d.disputed_tokens = 0`;
/** What a close sweeps ($1: the latest window end due). */
const CLOSABLE = `${UNDISPUTED} AND d.window_end <= $1`;

/** A batch being settled: its deliveries, locked, and the fee account shard its fees go to. */
interface SettlementBatch {
  readonly deliveries: ReadonlyMap<string, DeliveryState>;
  readonly fees: AccountId;
}

export interface BreachSubject {
  readonly id: string;
  readonly providerId: string;
  readonly modelClassId: string;
  readonly windowStart: Date;
  readonly windowEnd: Date;
}

export interface BreachEvidence {
  readonly probes: ProbeVerdict;
  readonly requests: RequestEvidence;
  readonly audits: AuditEvidence;
  readonly breach: boolean;
}

/** A step's kind a sweep runs, and so an admin can retry. */
export type SweptKind = 'payout' | 'close';

/** Run inside a retry's transaction: after the delivery is locked, and after its steps ran (or were refused again). */
export interface RetryHooks {
  readonly locked: (manager: EntityManager) => Promise<void>;
  readonly settled: (manager: EntityManager, refusal: DomainError | undefined) => Promise<void>;
}

/** How a settlement batch runs: a retry's hooks, or a sweep's deliveries passed over so far. */
interface BatchHow {
  readonly hooks?: RetryHooks;
  readonly passedOver?: Set<string>;
}

/** Errors of the transaction rather than of a delivery: it runs again whole (LedgerService.inTransaction retries a race). */
function isTransactionProblem(error: unknown): boolean {
  return error instanceof LedgerRaceError || isDeadlockOrSerializationFailure(error);
}

/**
 * The settlement worker's money movements for spot deliveries (market-rules §5, docs/settlement.md).
 * Every step is driven by rows in PostgreSQL, not by the job that triggers it: a payout sweeps the
 * verified usage no payout has claimed, a close sweeps the windows past their end. Each batch is
 * one transaction that locks its deliveries (SKIP LOCKED, so workers share the work), moves the
 * money through the ledger, marks what it paid, and records the step, all or nothing. Transfer ids
 * and record keys derive from the delivery and the point its tokens were settled to, which only
 * grows, so a step that runs again (after a crash, twice, out of order) finds itself done.
 *
 * A shell: what each step moves, and between which accounts, is decided in core/settlement-steps.ts.
 * Settlement writes only its own records (`settlements`); the deliveries' totals are written by
 * their repository, the usage a payout paid is marked by metering's, and breach evidence is read
 * from the records probes and metering keep.
 *
 * A delivery whose steps the ledger refuses (a business rule: funds, a transfer id's conflict) is
 * recorded as a failed step and leaves its batch, so the others settle; the sweeps then pass it
 * by until an admin retries it (`retry`), which runs the same batch path for that one delivery.
 * A delivery whose steps fail otherwise (a database error, a bug) is passed over until the next
 * sweep; an error of the transaction itself (a race, a deadlock) rolls the batch back to run again.
 */
@Injectable()
export class SettlementService {
  private readonly logger = new Logger(SettlementService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerService,
    private readonly deliveries: DeliveriesRepository,
    private readonly usage: VerifiedUsageRepository,
    private readonly probes: NodeProbesRepository,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * The fee account shard this process's batches credit (LedgerService.feeAccount), picked at
   * random per process: the books credit their own shards, and other workers most likely others.
   * This process's payout and close sweeps share it on purpose: taken first (ACCOUNT_LOCK_ORDER),
   * it makes them take turns, which was measured faster than letting them interleave on the same
   * traders' accounts (docs/benchmarks.md, "The fee account in shards").
   */
  private readonly feeShard = randomInt(1024);

  /**
   * Sweeps already running in this process: a scheduled sweep that finds the previous one still
   * going returns at once, rather than contend with it for the same accounts' locks (other
   * processes' sweeps take other deliveries: SKIP LOCKED).
   */
  private readonly sweeping = new Set<'payout' | 'close'>();

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
    const passedOver = new Set<string>();
    for (;;) {
      const settled = await this.payOutBatch(`${PAYABLE} AND ${NO_FAILED_STEP}`, [], { passedOver });
      total += settled;
      if (settled < BATCH) return total;
    }
  }

  private payOutBatch(where: string, params: unknown[], how: BatchHow): Promise<number> {
    return this.settleBatch(where, params, async (deliveries) => deliveries.map((d) => [payoutStep(positionOf(d))]), 'payout', how);
  }

  /** Closes every delivery whose window ended at least the grace period before `now`. Returns deliveries closed. */
  async closeDueWindows(now = new Date()): Promise<number> {
    return this.exclusive('close', () => this.close(now));
  }

  private async close(now: Date): Promise<number> {
    let total = 0;
    const due = new Date(now.getTime() - this.config.jobs.settlementCloseGraceMs);
    const passedOver = new Set<string>();
    for (;;) {
      const settled = await this.closeBatch(`${CLOSABLE} AND ${NO_FAILED_STEP}`, [due], { passedOver });
      total += settled;
      if (settled < BATCH) return total;
    }
  }

  private closeBatch(where: string, params: unknown[], how: BatchHow): Promise<number> {
    return this.settleBatch(
      where,
      params,
      async (deliveries, manager) => {
        // Breach evidence, as records: the exchange's probes and audits of the provider's nodes, and
        // the buyer's requests the node failed or served out of the model class's SLA (market-rules §5, §7).
        const evidence = await this.breachEvidenceOf(
          manager,
          deliveries.map((d) => ({ id: d.id, providerId: d.provider_id, modelClassId: d.model_class_id, windowStart: d.window_start, windowEnd: d.window_end })),
        );
        return deliveries.map((d, i) => {
          const position = positionOf(d);
          const payout = payoutStep(position);
          const { probes, requests, audits, breach } = evidence[i];
          const close = closeStep(position, payout.effect.paidTokens, breach);
          this.logger.log({ delivery: d.id, outcome: close.outcome, undelivered: String(close.tokens), evidence: { probes, requests, audits } }, 'delivery window closed');
          return [payout, close];
        });
      },
      'close',
      how,
    );
  }

  /**
   * Runs a failed step of `kind` once more, through the sweep's own batch path limited to its
   * delivery, with `hooks` in its transaction. Returns false when there was nothing to run: the
   * delivery no longer needs that step, or another transaction holds it right now.
   */
  async retry(deliveryId: string, kind: SweptKind, hooks: RetryHooks): Promise<boolean> {
    // A failed close was due when the sweep ran it: its retry does not ask the clock again.
    const settled =
      kind === 'payout' ? await this.payOutBatch(`${PAYABLE} AND d.id = $1`, [deliveryId], { hooks }) : await this.closeBatch(`${UNDISPUTED} AND d.id = $1`, [deliveryId], { hooks });
    return settled > 0;
  }

  /**
   * The evidence a close judges breach by (market-rules §5, §7): the probes and the exchange's
   * audits of the provider's nodes of the model class over [windowStart, windowEnd), and the
   * buyer's requests metering recorded. The ops console reads it with the same call, for an open
   * window up to now.
   */
  async breachEvidence(manager: EntityManager, d: BreachSubject): Promise<BreachEvidence> {
    return (await this.breachEvidenceOf(manager, [d]))[0];
  }

  /** The same for a batch of deliveries, in the order given: three queries whatever its size. */
  private async breachEvidenceOf(manager: EntityManager, subjects: readonly BreachSubject[]): Promise<BreachEvidence[]> {
    const probes = await this.probes.verdicts(manager, subjects, this.config.jobs.nodeProbeIntervalMs);
    const requests = await requestEvidence(manager, subjects.map((d) => d.id));
    const audits = await auditEvidence(manager, subjects);
    return subjects.map((_, i) => ({ probes: probes[i], requests: requests[i], audits: audits[i], breach: probes[i].breach || requests[i].breach || audits[i].breach }));
  }

  /**
   * One transaction: lock up to BATCH deliveries matching `where` (skipping those another worker
   * holds, and those this sweep passed over), plan their steps, apply every transfer at once, then
   * record. Returns deliveries locked.
   */
  private async settleBatch(
    where: string,
    params: unknown[],
    plan: (deliveries: DeliveryState[], manager: EntityManager) => Promise<Step[][]>,
    step: SweptKind,
    { hooks, passedOver }: BatchHow,
  ): Promise<number> {
    const started = performance.now();
    if (passedOver?.size) {
      params = [...params, [...passedOver]];
      where = `${where} AND NOT (d.id = ANY($${params.length}::uuid[]))`;
    }
    const passedBefore = passedOver?.size ?? 0;
    const count = await this.ledger.inTransaction(async (manager) => {
      // Lock first, then read: a statement reads with the snapshot it started with, so the state
      // read in the locking statement itself could predate a payout that committed while it ran,
      // and pay the same usage again. The second statement's snapshot comes after the locks.
      const locked: Array<{ id: string }> = await manager.query(
        `SELECT d.id FROM deliveries d WHERE ${where} ORDER BY d.window_end, d.id LIMIT ${BATCH} FOR UPDATE OF d SKIP LOCKED`,
        params,
      );
      if (locked.length === 0) return 0;
      await hooks?.locked(manager);
      const deliveries: DeliveryState[] = await manager.query(
        `SELECT ${DELIVERY_STATE} FROM deliveries d WHERE d.id = ANY($1::uuid[]) AND ${where.replace(/\$(\d+)/g, (_, n) => `$${Number(n) + 1}`)} ORDER BY d.window_end, d.id`,
        [locked.map((r) => r.id), ...params],
      );
      const batch: SettlementBatch = { deliveries: new Map(deliveries.map((d) => [d.id, d])), fees: await this.ledger.feeAccount(this.feeShard) };
      const planned = (await plan(deliveries, manager)).map((steps) => steps.filter(isWorthRecording));
      const refusals = await this.applyAll(manager, planned, batch, passedOver);
      await hooks?.settled(manager, refusals[0]);
      return locked.length;
    });
    const passed = (passedOver?.size ?? 0) - passedBefore;
    if (passed > 0) this.metrics.settlementStepsPassedOver.inc({ step }, passed);
    if (count > passed) {
      this.metrics.settlementBatchSeconds.observe((performance.now() - started) / 1000);
      this.metrics.settledDeliveries.inc({ step }, count - passed);
    }
    return count;
  }

  /**
   * Applies every delivery's steps at once; if that fails, each delivery alone. A delivery the
   * ledger refuses gets its steps recorded as failed (they wait for an admin's retry). One that
   * fails otherwise (a database error, a bug) is no verdict on the delivery: a sweep passes it
   * over (`passedOver`: the rest of this sweep leaves it out, the next sweep tries it again) and
   * the others go on, as one that keeps failing must not hold back every delivery after it in the
   * sweep's order. Without `passedOver` (a retry of one step) such an error is thrown. Errors of
   * the transaction itself (a race, a deadlock, a lost connection) are thrown: it runs again whole.
   * Returns the refusals.
   */
  private async applyAll(manager: EntityManager, planned: Step[][], batch: SettlementBatch, passedOver?: Set<string>): Promise<DomainError[]> {
    const first = await this.apply(manager, planned.flat(), batch);
    if (first === undefined) return [];
    if (isTransactionProblem(first)) throw first;
    const refusals: DomainError[] = [];
    for (const steps of planned) {
      const failure = planned.length === 1 ? first : await this.apply(manager, steps, batch);
      if (failure === undefined) continue;
      if (isTransactionProblem(failure) || (!(failure instanceof DomainError) && !passedOver)) throw failure;
      if (!(failure instanceof DomainError)) {
        passedOver!.add(steps[0].deliveryId);
        this.logger.warn({ delivery: steps[0].deliveryId, err: (failure as Error)?.message ?? String(failure) }, 'settlement step failed; passed over until the next sweep');
        continue;
      }
      refusals.push(failure);
      this.logger.warn({ delivery: steps[0].deliveryId, code: failure.code, error: failure.message }, 'settlement step refused by the ledger; it waits for a retry');
      await this.record(manager, steps, batch, await this.routed(manager, steps, batch), { status: 'failed', error: `${failure.code}: ${failure.message}` });
    }
    return refusals;
  }

  /**
   * The steps' transfers and records under a savepoint: all of them, or none and why (the
   * ledger's refusal, or any other error, which the savepoint keeps from aborting the batch's
   * transaction).
   */
  private async apply(manager: EntityManager, steps: Step[], batch: SettlementBatch): Promise<unknown> {
    if (steps.length === 0) return undefined;
    await manager.query('SAVEPOINT settle_steps');
    try {
      const transfers = await this.routed(manager, steps, batch);
      await this.ledger.transferOrThrow(manager, transfers.flat());
      await this.record(manager, steps, batch, transfers, { status: 'done' });
    } catch (error) {
      await manager.query('ROLLBACK TO SAVEPOINT settle_steps');
      return error ?? new Error('a settlement step failed');
    }
    await manager.query('RELEASE SAVEPOINT settle_steps');
    return undefined;
  }

  private async routed(manager: EntityManager, steps: Step[], batch: SettlementBatch): Promise<TransferRequest[][]> {
    const transfers: TransferRequest[][] = [];
    for (const s of steps) {
      // Each transfer's accounts by what it is (core/settlement-steps.ts); zero ones dropped.
      const d = batch.deliveries.get(s.deliveryId)!;
      transfers.push(await stepTransfers(this.ledger, manager, s, { buyerId: d.buyer_id, providerId: d.provider_id, fees: batch.fees }));
    }
    return transfers;
  }

  /** The steps' records, the usage they paid, and the deliveries' new totals. */
  private async record(
    manager: EntityManager,
    steps: Step[],
    batch: SettlementBatch,
    transfers: TransferRequest[][],
    outcome: StepOutcome,
  ): Promise<void> {
    if (steps.length === 0) return;
    const idOf = await insertSettlements(
      manager,
      steps.map((s, i) => {
        const d = batch.deliveries.get(s.deliveryId)!;
        return { key: s.key, kind: s.kind, deliveryId: d.id, buyerId: d.buyer_id, providerId: d.provider_id, tokens: s.tokens, amounts: s.amounts, transferIds: transfers[i].map((t) => t.id) };
      }),
      outcome,
    );
    if (outcome.status === 'failed') return; // it moved nothing: no usage paid, no totals
    const paidUsage = steps.flatMap((s) => s.usageIds.map((u) => [u, idOf.get(s.key)!] as const));
    if (paidUsage.length > 0) {
      const marked = await this.usage.markPaid(manager, paidUsage);
      // Usage another transaction paid meanwhile would be paid twice: refuse the whole batch.
      if (marked !== paidUsage.length) throw new Error(`settlement raced: ${paidUsage.length - marked} usage records were paid meanwhile`);
    }
    await this.deliveries.recordSettled(manager, batchTotals(steps));
  }
}
