import { InvalidCursorError } from './errors.js';

/**
 * Opaque page cursors: base64url JSON. Callers must treat them as opaque; only the adapter
 * that issued a cursor reads it back.
 */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Decode a cursor, checking each named field has the expected type. Throws InvalidCursorError. */
export function decodeCursor<K extends string>(
  cursor: string,
  fields: Record<K, 'string' | 'number'>,
): Record<K, string | number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (err) {
    throw new InvalidCursorError(undefined, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new InvalidCursorError();
  const out = {} as Record<K, string | number>;
  for (const [name, type] of Object.entries(fields) as [K, string][]) {
    const v = (parsed as Record<string, unknown>)[name];
    if (typeof v !== type) throw new InvalidCursorError();
    out[name] = v as string | number;
  }
  return out;
}

/** Clamp a requested page size: default 100, at least 1, at most 1000. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return 100;
  return Math.min(1000, Math.max(1, Math.floor(limit)));
}
