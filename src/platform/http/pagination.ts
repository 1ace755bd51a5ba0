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

export function decodeCursor(cursor: string | undefined, arity: number): (string | number)[] | null {
  if (cursor === undefined) return null;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === arity && key.every((k) => typeof k === 'string' || typeof k === 'number')) return key;
  } catch {
    // fall through
  }
  throw invalid('INVALID_CURSOR', 'cursor is not a cursor this list returned');
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
