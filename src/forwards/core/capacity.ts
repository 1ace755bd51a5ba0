const DAY_MS = 86_400_000;
const SECONDS_PER_DAY = 86_400n;

export interface ForwardCapacityInputs {
  /** The provider's enabled nodes of the contract's model class. */
  readonly activeNodes: number;
  /** Declared tokens per second, summed over those nodes. */
  readonly tokensPerSecond: bigint;
  /** UTC day numbers (ms since epoch / 86,400,000) of the contract's period. */
  readonly periodDays: readonly number[];
  /**
   * The provider's tokens already committed per UTC day: its shorts and open sells on every
   * forward contract (each spread over its period with spreadOverDays), plus its spot deliveries
   * delivering that day.
   */
  readonly committedTokensByDay: ReadonlyMap<number, bigint>;
  /** What the new short adds on each day of this period, aligned with periodDays. */
  readonly addedTokensPerDay: ReadonlyArray<bigint>;
}

export interface CapacityRefusal {
  readonly code: 'NO_ACTIVE_NODE' | 'CAPACITY_EXCEEDED';
  readonly message: string;
}

const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/**
 * The forward sell check (market-rules §6 "Who may hold what"): a sell that grows a short needs an
 * enabled node of the model class, and on every day of the period what the provider already
 * committed that day (overlapping months and weeks count together, and spot deliveries) plus the
 * new short's daily share may not exceed what its nodes declared: `tokensPerSecond × 86,400`.
 * A day outside this period is not this sell's business, so only overlapping days can refuse it.
 */
export function forwardCapacityRefusal(inputs: ForwardCapacityInputs): CapacityRefusal | undefined {
  if (inputs.activeNodes === 0) return { code: 'NO_ACTIVE_NODE', message: 'a forward sell needs an enabled inference node of the model class' };
  if (inputs.addedTokensPerDay.length !== inputs.periodDays.length) throw new RangeError('addedTokensPerDay must have one entry per period day');
  const limit = inputs.tokensPerSecond * SECONDS_PER_DAY;
  for (const [i, day] of inputs.periodDays.entries()) {
    const committed = inputs.committedTokensByDay.get(day) ?? 0n;
    const added = inputs.addedTokensPerDay[i];
    if (committed + added > limit) {
      return {
        code: 'CAPACITY_EXCEEDED',
        message: `this sell would commit ${committed + added} tokens on ${isoDay(day)} (${committed} already committed + ${added}); your enabled nodes can serve ${limit} a day`,
      };
    }
  }
  return undefined;
}

/**
 * Tokens spread flat over `days` UTC days (market-rules §6): `floor(tokens / days)` a day, the
 * remainder one each on the first days, so the days add up to the tokens exactly.
 */
export function spreadOverDays(tokens: bigint, days: number): bigint[] {
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError('a period has at least one day');
  if (tokens < 0n) throw new RangeError('tokens are never negative');
  const each = tokens / BigInt(days);
  const extra = Number(tokens % BigInt(days));
  return Array.from({ length: days }, (_, i) => (i < extra ? each + 1n : each));
}
