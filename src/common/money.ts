/**
 * Money on the API is a decimal string of USD with at most 6 decimals; inside it is a bigint of
 * micro-USD. No floating point touches it: parsing and formatting are done on the digits.
 */
export const MICROS_PER_USD = 1_000_000n;

/** Largest amount accepted on the API: one trillion USD, far below BIGINT's limit. */
export const MAX_API_AMOUNT_MICROS = 1_000_000_000_000n * MICROS_PER_USD;

const USD_PATTERN = /^(0|[1-9]\d{0,12})(?:\.(\d{1,6}))?$/;

export type ParseResult = { ok: true; micros: bigint } | { ok: false; reason: string };

/** Parses a non-negative USD decimal string ("12.5", "0.000001") into micro-USD. */
export function parseUsd(text: string): ParseResult {
  const match = USD_PATTERN.exec(text);
  if (!match) {
    return { ok: false, reason: 'must be a decimal string of USD with at most 6 decimals, e.g. "12.500000"' };
  }
  const micros = BigInt(match[1]) * MICROS_PER_USD + BigInt((match[2] ?? '').padEnd(6, '0'));
  if (micros > MAX_API_AMOUNT_MICROS) return { ok: false, reason: 'must not exceed 1000000000000 USD' };
  return { ok: true, micros };
}

/** Formats micro-USD as a USD decimal string with exactly 6 decimals ("-0.250000"). */
export function formatUsd(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const whole = abs / MICROS_PER_USD;
  const fraction = (abs % MICROS_PER_USD).toString().padStart(6, '0');
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}
