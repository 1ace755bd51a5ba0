// The shapes of the forward scenario fixtures, run by scenarios.spec.ts.
import type { PriceGrid } from '../../../markets/price.js';
import type { Allocation } from '../allocation.js';
import type { Mark } from '../mark-price.js';
import type { ExpiryFunding, VariationSettlement } from '../waterfall.js';

/** What a participant holds on the exchange for this contract, in micro-USD. */
export interface Funds {
  readonly margin: bigint;
  readonly available: bigint;
  readonly bond: bigint;
  /** The notional a long moved to escrow at expiry. */
  readonly escrow: bigint;
}

export interface ScenarioTrade {
  readonly buyerId: string;
  readonly sellerId: string;
  readonly priceTicks: number;
  readonly lots: number;
  /** In the last hour before the mark: counts towards the mark's volume-weighted price. */
  readonly lastHour?: boolean;
}

/** One day of a contract: its trades, then the mark at the next 00:00 UTC with the book as it stands. */
export interface MarkDay {
  /** The UTC day the mark is taken, YYYY-MM-DD (00:00). */
  readonly day: string;
  readonly trades: readonly ScenarioTrade[];
  readonly bestBid?: number;
  readonly bestAsk?: number;
  readonly spotIndexTicks?: number;
}

export interface ContractScenario {
  readonly kind: 'contract';
  readonly description: string;
  readonly grid?: PriceGrid;
  readonly collarBps?: number;
  readonly insurance: bigint;
  /** Each participant's funds before the first trade (escrow 0). */
  readonly participants: Readonly<Record<string, Omit<Funds, 'escrow'>>>;
  readonly days: readonly MarkDay[];
  /** Expiry at the last mark: the delivery period's length in days. */
  readonly expiry?: { readonly periodDays: number };
  readonly expected: {
    readonly marks: readonly Mark[];
    /** Per mark, the non-zero variation margin per participant. */
    readonly variation: readonly Readonly<Record<string, bigint>>[];
    /** Per mark, the waterfall's settlement, where the scenario checks it. */
    readonly settlements?: readonly (VariationSettlement | undefined)[];
    readonly funds: Readonly<Record<string, Funds>>;
    readonly insurance: bigint;
    readonly expiry?: {
      readonly funding: readonly ExpiryFunding[];
      readonly allocations: readonly Allocation[];
      /** Per allocation `short>long`: lots per day of the period. */
      readonly schedules: Readonly<Record<string, readonly number[]>>;
    };
  };
}

/** A provider's forward sells, each checked against its node's capacity and kept when accepted. */
export interface CapacityScenario {
  readonly kind: 'capacity';
  readonly description: string;
  readonly activeNodes: number;
  readonly tokensPerSecond: bigint;
  readonly lotTokens: number;
  /** Spot deliveries the provider is delivering, per UTC day. */
  readonly spotDeliveries: readonly { readonly day: string; readonly tokens: bigint }[];
  readonly sells: readonly { readonly contract: string; readonly firstDay: string; readonly days: number; readonly lots: number }[];
  /** Per sell: 'ok', or the refusal. */
  readonly expected: readonly ('ok' | { readonly code: string; readonly message: string })[];
}

export type ForwardScenario = ContractScenario | CapacityScenario;

/** `count` days of `lots` each: a schedule written as runs. */
export const days = (count: number, lots: number): number[] => Array<number>(count).fill(lots);
