/**
 * Exact decimal strings for the API, from integers: prices as ticks (0.001 USD per million tokens
 * on tokex's default tick), money as micro-USD (bigint). No floating point touches either.
 */

/** `480` ticks of 0.001 → `"0.480"`. */
export function ticksToPrice(ticks: number, decimals = 3): string {
  if (!Number.isSafeInteger(ticks) || ticks < 0) throw new Error(`ticks must be a whole number >= 0, not ${ticks}`);
  const unit = 10 ** decimals;
  return `${Math.floor(ticks / unit)}.${String(ticks % unit).padStart(decimals, '0')}`;
}

/** `"0.480"` → `480` ticks (the string must have exactly `decimals` places or fewer). */
export function priceToTicks(price: string, decimals = 3): number {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(price);
  if (!match || (match[2] ?? '').length > decimals) throw new Error(`not a price with at most ${decimals} decimals: ${price}`);
  return Number(match[1]) * 10 ** decimals + Number((match[2] ?? '').padEnd(decimals, '0'));
}

/** `"12.345000"` (or `"-0.5"`) → micro-USD. */
export function usdToMicros(usd: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(usd);
  if (!match) throw new Error(`not a USD amount: ${usd}`);
  const micros = BigInt(match[2]) * 1_000_000n + BigInt((match[3] ?? '').padEnd(6, '0'));
  return match[1] ? -micros : micros;
}

/** micro-USD → `"12.345000"`. */
export function microsToUsd(micros: bigint): string {
  const sign = micros < 0n ? '-' : '';
  const abs = micros < 0n ? -micros : micros;
  return `${sign}${abs / 1_000_000n}.${String(abs % 1_000_000n).padStart(6, '0')}`;
}

/** The sum of USD strings, exactly. */
export const sumUsd = (amounts: Iterable<string>): string => microsToUsd([...amounts].reduce((sum, a) => sum + usdToMicros(a), 0n));
