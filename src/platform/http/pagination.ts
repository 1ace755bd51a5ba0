import type { Type as Class } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { invalid } from '../../common/domain-error.js';

/** `?limit=&cursor=` on every list (api.md): default 100, at most 1000. */
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'The nextCursor of the previous page' })
  @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * A listed row carries its timestamp sort key as PostgreSQL prints it (`created_at::text AS
 * cursor_at`): microseconds intact, where a JS Date would drop them and repeat rows across pages.
 */
export interface ListedRow {
  cursor_at: string;
}

/** Keyset cursors: the sort key of the last item, opaque to clients. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * What each part of a list's sort key is, so that a forged cursor, or one from another list, is a
 * 400 here rather than a value PostgreSQL refuses to cast (a 500).
 */
export type CursorPart = 'timestamp' | 'uuid' | 'bigint' | 'text' | 'day';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// As PostgreSQL prints a timestamptz (`created_at::text`), years 1000 to 9999.
const PG_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(?:Z|[+-](\d{2})(?::?(\d{2}))?)?$/;
const INT8_MAX = 9_223_372_036_854_775_807n;

/** A calendar day that exists, years 1000 to 9999 (PostgreSQL refuses 2026-02-31 and year 0). */
function isDay(text: string): boolean {
  const match = /^([1-9]\d{3})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === text;
}

function isTimestamp(text: string): boolean {
  const m = PG_TIMESTAMP.exec(text);
  return !!m && isDay(m[1]) && Number(m[2]) < 24 && Number(m[3]) < 60 && Number(m[4]) < 60 && Number(m[6] ?? 0) < 16 && Number(m[7] ?? 0) < 60;
}

function isPart(kind: CursorPart, value: unknown): boolean {
  switch (kind) {
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'timestamp':
      return typeof value === 'string' && isTimestamp(value);
    case 'day':
      return typeof value === 'string' && isDay(value);
    case 'bigint': {
      const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
      return typeof text === 'string' && /^\d{1,19}$/.test(text) && BigInt(text) <= INT8_MAX;
    }
    case 'text':
      return typeof value === 'string' && value.length <= 200 && !/[\u0000\ud800-\udfff]/.test(value);
  }
}

export function decodeCursor(cursor: string | undefined, shape: readonly CursorPart[]): (string | number)[] | null {
  if (cursor === undefined) return null;
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === shape.length && shape.every((kind, i) => isPart(kind, key[i]))) return key as (string | number)[];
  } catch {
    // fall through
  }
  throw invalid('INVALID_CURSOR', 'cursor is not a cursor this list returned', { fields: ['cursor'] });
}

/** Builds a page from rows fetched with `limit + 1`: the extra row only says whether more exist. */
export function pageOf<R, T>(rows: R[], limit: number, cursorKey: (row: R) => (string | number)[], toItem: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items: items.map(toItem), nextCursor: more ? encodeCursor(cursorKey(items[items.length - 1])) : null };
}

export const pageLimit = (query: PageQuery) => query.limit ?? 100;

/** The OpenAPI shape of a page of `item`s: `class DepositPage extends PageOf(DepositView) {}`. */
export function PageOf<T>(item: Class<T>) {
  class PageOfItems implements Page<T> {
    @ApiProperty({ type: item, isArray: true }) items: T[];
    @ApiProperty({ nullable: true, type: String, description: 'Pass as ?cursor= for the next page; null on the last' })
    nextCursor: string | null;
  }
  return PageOfItems;
}
