import { LatchkeyError } from '../errors.js';

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** A page size within 1..1000, 100 when not given. */
export function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(limit ?? 100, 1), 1000);
}

// Cursors are opaque to callers: base64url of the JSON position, checked on the way back in.
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, isPosition: (value: unknown) => value is T): T | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!isPosition(value)) {
    throw new LatchkeyError('input.invalid', 'cursor is not one this list gave out', { details: { cursor: 'is not a cursor this list gave out' } });
  }
  return value;
}

/**
 * Runs a keyset query for one row more than the page holds: if it comes back, there is a
 * next page, and the cursor is the position of the last row shown.
 */
export async function keysetPage<Row, Position>(
  request: PageRequest,
  isPosition: (value: unknown) => value is Position,
  fetch: (limit: number, after: Position | undefined) => Promise<Row[]>,
  positionOf: (row: Row) => Position,
): Promise<Page<Row>> {
  const limit = clampLimit(request.limit);
  const rows = await fetch(limit + 1, decodeCursor(request.cursor, isPosition));
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : null };
}

export function isCreatedKey(value: unknown): value is { createdAt: string; id: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { createdAt?: unknown }).createdAt === 'string' &&
    typeof (value as { id?: unknown }).id === 'string' &&
    !Number.isNaN(Date.parse((value as { createdAt: string }).createdAt))
  );
}

export function isString(value: unknown): value is string {
  return typeof value === 'string';
}
