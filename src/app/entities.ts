import { AuditEvent } from '../platform/audit/audit-event.entity.js';
import { DeliveryRow } from '../deliveries/delivery.entity.js';
import { DeliveryKeyRow } from '../delivery-keys/delivery-key.entity.js';
import { SigningKeyRow } from '../delivery-keys/signing-key.entity.js';
import { Deposit } from '../funding/deposit.entity.js';
import { Withdrawal } from '../funding/withdrawal.entity.js';
import { ForwardMarkRow } from '../forwards/forward-mark.entity.js';
import { ForwardPositionRow } from '../forwards/forward-position.entity.js';
import { MarginEventRow } from '../forwards/margin-event.entity.js';
import { ForwardSeriesRow } from '../forwards/series/forward-series.entity.js';
import { IdempotencyKey } from '../platform/idempotency/idempotency-key.entity.js';
import { OutboxRow } from '../platform/jobs/outbox.entity.js';
import { AccountRow } from '../ledger/account.entity.js';
import { LedgerAuditRow } from '../ledger/ledger-audit.entity.js';
import { TransferRow } from '../ledger/transfer.entity.js';
import { Instrument } from '../markets/instrument.entity.js';
import { ModelClass } from '../markets/model-class.entity.js';
import { DeliveryUsageRow } from '../metering/delivery-usage.entity.js';
import { BuyerReportRow, DisputeRow, NodeAuditRow, NodeCounterSampleRow, NodeReconciliationRow, UsageBatchRow, UsageRecordRow } from '../metering/metering.entities.js';
import { InferenceNode } from '../nodes/inference-node.entity.js';
import { DeadManSwitchRow } from '../orders/dead-man-switch.entity.js';
import { FillRow } from '../orders/fill.entity.js';
import { InstrumentBookRow } from '../orders/instrument-book.entity.js';
import { OrderRow } from '../orders/order.entity.js';
import { ApiKey } from '../participants/api-key.entity.js';
import { Participant } from '../participants/participant.entity.js';
import { NodeProbeRow } from '../probes/node-probe.entity.js';
import { SettlementRow } from '../settlement/settlement.entity.js';
import { SCORECARD_ENTITIES } from '../scorecards/scorecard.entities.js';

/** Every entity, listed explicitly: no globs, so the same list works in dist/, Jest and the CLI. */
export const ENTITIES = [
  Participant,
  ApiKey,
  AccountRow,
  TransferRow,
  LedgerAuditRow,
  Deposit,
  Withdrawal,
  IdempotencyKey,
  OutboxRow,
  AuditEvent,
  ModelClass,
  Instrument,
  InferenceNode,
  OrderRow,
  FillRow,
  InstrumentBookRow,
  DeadManSwitchRow,
  ForwardPositionRow,
  ForwardMarkRow,
  MarginEventRow,
  ForwardSeriesRow,
  DeliveryRow,
  DeliveryUsageRow,
  SettlementRow,
  SigningKeyRow,
  DeliveryKeyRow,
  NodeProbeRow,
  UsageBatchRow,
  UsageRecordRow,
  BuyerReportRow,
  DisputeRow,
  NodeCounterSampleRow,
  NodeAuditRow,
  NodeReconciliationRow,
  ...SCORECARD_ENTITIES,
];
