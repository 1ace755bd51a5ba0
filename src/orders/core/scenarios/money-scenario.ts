// The shape of one money scenario fixture, run by scenarios.spec.ts.
import type { SpotTerms } from '../../../markets/instrument-terms.js';
import type { BookCommand } from '../book-commands.js';
import type { ProviderCapacity } from '../capacity.js';
import type { ProductRules } from '../product-rules.js';
import type { Balances } from './harness.js';

export interface MoneyScenario {
  readonly description: string;
  /** Each participant's available cash before the first batch, in micro-USD. */
  readonly participants: Readonly<Record<string, bigint>>;
  readonly terms?: Partial<SpotTerms & { status: 'active' | 'halted' }>;
  readonly rules?: ProductRules;
  readonly capacity?: ReadonlyMap<string, ProviderCapacity>;
  readonly indexPriceTicks?: number;
  readonly batches: readonly (readonly BookCommand[])[];
  /** Per batch, per command: 'ok' or the refusal's code (optional). */
  readonly expectedResults?: readonly (readonly string[])[];
  readonly expected: {
    readonly balances: Readonly<Record<string, Balances>>;
    readonly fees: bigint;
    /** The bond that left sell orders with their fills, in fill order (optional). */
    readonly fillBonds?: readonly bigint[];
  };
}
