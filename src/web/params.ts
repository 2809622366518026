import { IDENTITY_NAME_RULE, validateIdentityName } from '../jobs/identity-name.js';
import { BadRequestError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/;

/** A job id path parameter: 400 unless it is a UUID. */
export function parseJobId(value: unknown): string {
  if (typeof value !== 'string' || !UUID.test(value)) throw new BadRequestError('job ids are UUIDs', { code: 'bad-job-id' });
  return value.toLowerCase();
}

/** True for a UUID (any version, either case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** An identity name (the gallery's rule, `jobs/identity-name.ts`), else 400. */
export function parseIdentityName(value: unknown): string {
  try {
    return validateIdentityName(value);
  } catch (err) {
    throw new BadRequestError(`identity names are ${IDENTITY_NAME_RULE}`, { code: 'bad-identity-name', cause: err });
  }
}

/**
 * A single parameter value. A repeated parameter (`topK=1&topK=5`) is 400, not its first value:
 * a silent pick hides the client's mistake. (Bracketed names such as `topK[]` are refused for
 * every route by `query-guard.ts`.)
 */
function single(value: unknown): string | undefined {
  if (Array.isArray(value)) throw new BadRequestError('a parameter was given more than once; give each parameter once', { code: 'repeated-parameter' });
  return typeof value === 'string' ? value : undefined;
}

/**
 * Seconds to wait, from the form field or the query (form wins): 0..`max`, decimals allowed.
 * Absent gives `fallback`; anything else (`-1`, `1e9`, `abc`) is 400.
 */
export function parseWait(raw: unknown, max: number, fallback: number): number {
  const value = single(raw);
  if (value === undefined || value === '') return fallback;
  const n = NUMBER.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > max) {
    throw new BadRequestError(`wait must be a number of seconds from 0 to ${max}`, { code: 'bad-wait' });
  }
  return n;
}

/** topK: an integer 1..100, default from config. */
export function parseTopK(raw: unknown, fallback: number): number {
  const value = single(raw);
  if (value === undefined || value === '') return fallback;
  const n = /^\s*\d{1,3}\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new BadRequestError('topK must be an integer from 1 to 100', { code: 'bad-top-k' });
  return n;
}

/** threshold: a distance in (0, 2], default from config. */
export function parseThreshold(raw: unknown, fallback: number): number {
  const value = single(raw);
  if (value === undefined || value === '') return fallback;
  const n = NUMBER.test(value) ? Number(value) : NaN;
  if (!(n > 0 && n <= 2)) throw new BadRequestError('threshold must be a number in (0, 2]', { code: 'bad-threshold' });
  return n;
}

/** margin: a distance gap in [0, 2), default from config; 0 turns the 1:N rule's margin off. */
export function parseMargin(raw: unknown, fallback: number): number {
  const value = single(raw);
  if (value === undefined || value === '') return fallback;
  const n = NUMBER.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n < 2)) throw new BadRequestError('margin must be a number in [0, 2)', { code: 'bad-margin' });
  return n;
}

/** A boolean form field (`true/false/1/0/yes/no/on/off`), default false. */
export function parseFlag(raw: unknown, name: string): boolean {
  const value = single(raw);
  if (value === undefined || value === '') return false;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new BadRequestError(`${name} must be true or false`, { code: `bad-${name}` });
}

/** Page size for listings: 1..1000, default 100. */
export function parseLimit(raw: unknown): number {
  const value = single(raw);
  if (value === undefined || value === '') return 100;
  const n = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 1000)) throw new BadRequestError('limit must be an integer from 1 to 1000', { code: 'bad-limit' });
  return n;
}

/** An opaque cursor: passed through, but bounded so it cannot be abused. */
export function parseCursor(raw: unknown): string | undefined {
  const value = single(raw);
  if (value === undefined || value === '') return undefined;
  if (value.length > 2048) throw new BadRequestError('cursor is too long', { code: 'bad-cursor' });
  return value;
}

/** An ISO timestamp filter. */
export function parseSince(raw: unknown): string | undefined {
  const value = single(raw);
  if (value === undefined || value === '') return undefined;
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) throw new BadRequestError('since must be an ISO 8601 time', { code: 'bad-since' });
  return new Date(t).toISOString();
}

/** A short free-text filter. */
export function parseText(raw: unknown, name: string, max = 200): string | undefined {
  const value = single(raw);
  if (value === undefined || value === '') return undefined;
  if (value.length > max) throw new BadRequestError(`${name} is too long`, { code: `bad-${name}` });
  return value;
}

const MAX_BASENAME = 100;

/**
 * The client's file name made safe to store and echo: the last path segment only, NFC,
 * control characters, NUL and anything outside letters, digits, marks and ` ._-()+@` replaced by
 * `_`, at most 100 characters. Returns `fallback` when nothing usable is left.
 */
export function sanitizeFilename(raw: string | undefined, fallback = 'upload'): string {
  if (!raw) return fallback;
  const last = raw.split(/[/\\]/).pop() ?? '';
  const cleaned = last
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}\p{M} ._()+@-]/gu, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  const capped = Array.from(cleaned).slice(0, MAX_BASENAME).join('');
  return capped === '' || /^_+$/.test(capped) ? fallback : capped;
}

/** The name without its last extension, for the classic protocol's `<basename>:<name>`. */
export function basenameWithoutExtension(filename: string): string {
  const dot = filename.lastIndexOf('.');
  return dot > 0 ? filename.slice(0, dot) : filename;
}

/** A quality minimum (`minQuality`, `minEnrollQuality`): a number in [0, 1], default `fallback`. */
export function parseQuality(raw: unknown, name: string, fallback: number): number {
  const value = single(raw);
  if (value === undefined || value === '') return fallback;
  const n = NUMBER.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 1)) throw new BadRequestError(`${name} must be a number in [0, 1]`, { code: `bad-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` });
  return n;
}

/** `landmarks`: 5 (the default) or 68 points per face in the result. */
export function parseLandmarks(raw: unknown): 5 | 68 {
  const value = single(raw);
  if (value === undefined || value === '' || value.trim() === '5') return 5;
  if (value.trim() === '68') return 68;
  throw new BadRequestError('landmarks must be 5 or 68', { code: 'bad-landmarks' });
}
