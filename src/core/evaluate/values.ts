// Ruby value semantics for Flipper expressions. Flipper evaluates expressions with plain Ruby
// operators (`==`, `>`, `to_s`, `to_i`...), so reading the same stored expression must give the
// same answer here; these helpers reproduce the parts of Ruby the expressions reach.

/** A value an expression produces or reads from the context. `null` is Ruby's `nil`; a Date is a Time. */
export type ExpressionValue = unknown;

/**
 * Raised while evaluating when Ruby would raise (a comparison of a number with a string, a
 * duration of a string, a time that does not parse). Flipper lets that error escape `enabled?`;
 * here the gate stays closed instead, so evaluation never throws.
 */
export class ExpressionEvaluationError extends Error {
  override readonly name = 'ExpressionEvaluationError';
}

/** Ruby truthiness: everything but `nil` and `false` is true, including 0 and "". */
export function truthy(value: ExpressionValue): boolean {
  return value !== null && value !== undefined && value !== false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Ruby `==` over the values an expression can see (1 == 1.0; arrays and hashes compare deeply). */
export function rubyEqual(a: ExpressionValue, b: ExpressionValue): boolean {
  const left = a === undefined ? null : a;
  const right = b === undefined ? null : b;
  if (left === right) return true;
  if (left instanceof Date || right instanceof Date) {
    return left instanceof Date && right instanceof Date && left.getTime() === right.getTime();
  }
  if (Array.isArray(left) || Array.isArray(right)) {
    if (!Array.isArray(left) || !Array.isArray(right) || left.length !== right.length) return false;
    for (let i = 0; i < left.length; i++) if (!rubyEqual(left[i], right[i])) return false;
    return true;
  }
  if (isPlainObject(left) && isPlainObject(right)) {
    const keys = Object.keys(left);
    if (keys.length !== Object.keys(right).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(right, key) || !rubyEqual(left[key], right[key])) return false;
    }
    return true;
  }
  return false;
}

// Ruby compares strings byte by byte in UTF-8, which is code point order; JavaScript's `<`
// compares UTF-16 code units, which differs once a surrogate pair meets U+E000..U+FFFF.
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function comparable(value: ExpressionValue): boolean {
  return typeof value === 'number' || typeof value === 'string' || value instanceof Date;
}

/**
 * Ruby's `left.respond_to?(op) && right.respond_to?(op) && left.op(right)` as Flipper's
 * comparison expressions do it: `undefined` when a side has no ordering (nil, booleans, arrays,
 * hashes), which makes the comparison false; a thrown error for two ordered values of different
 * kinds (Ruby's "comparison of Integer with String failed").
 */
export function rubyCompare(left: ExpressionValue, right: ExpressionValue): number | undefined {
  if (!comparable(left) || !comparable(right)) return undefined;
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  if (typeof left === 'string' && typeof right === 'string') return compareCodePoints(left, right);
  if (left instanceof Date && right instanceof Date) return left.getTime() - right.getTime();
  throw new ExpressionEvaluationError(`comparison of ${rubyClass(left)} with ${rubyClass(right)} failed`);
}

function rubyClass(value: ExpressionValue): string {
  if (value instanceof Date) return 'Time';
  if (typeof value === 'number') return 'Number';
  return 'String';
}

// String#to_i / String#to_f: leading whitespace, a sign, digits with single underscores between
// them; whatever follows the longest valid prefix is ignored, and no digits at all gives 0.
const INTEGER_PREFIX = /^\s*([+-]?\d+(?:_\d+)*)/;
const FLOAT_PREFIX = /^\s*([+-]?(?:\d+(?:_\d+)*)?(?:\.\d+(?:_\d+)*)?)(?:[eE]([+-]?\d+))?/;

/** Ruby `String#to_i`. */
export function rubyStringToInteger(text: string): number {
  const match = INTEGER_PREFIX.exec(text);
  if (!match?.[1]) return 0;
  return Number.parseInt(match[1].replaceAll('_', ''), 10);
}

/** Ruby `String#to_f`. */
export function rubyStringToFloat(text: string): number {
  const match = FLOAT_PREFIX.exec(text);
  const mantissa = match?.[1]?.replaceAll('_', '') ?? '';
  if (!/\d/.test(mantissa)) return 0;
  const exponent = match?.[2];
  const value = Number.parseFloat(exponent === undefined ? mantissa : `${mantissa}e${exponent}`);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Flipper's `Typecast.to_number`: numbers pass, strings parse leniently (`to_f` when they hold a
 * dot, `to_i` otherwise), nil is 0, a Time is its epoch seconds; anything else raises.
 */
export function rubyToNumber(value: ExpressionValue): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string')
    return value.includes('.') ? rubyStringToFloat(value) : rubyStringToInteger(value);
  if (value === null || value === undefined) return 0;
  if (value instanceof Date) return value.getTime() / 1000;
  throw new ExpressionEvaluationError(`${describeKind(value)} cannot be converted to a number`);
}

function describeKind(value: ExpressionValue): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(typeof value === 'boolean' ? value : typeof value);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

// Ruby prints floats below 1e-4 in exponent form with at least one decimal and a two-digit
// exponent ("1.5e-05"); integers (what JSON integers parse to in Ruby) print in full.
function rubyNumberToString(value: number): string {
  if (Number.isInteger(value)) return Object.is(value, -0) ? '0' : BigInt(value).toString();
  const abs = Math.abs(value);
  if (abs >= 1e-4) return String(value);
  const [mantissa = '', exponent = '0'] = value.toExponential().split('e');
  const sign = exponent.startsWith('-') ? '-' : '+';
  const digits = exponent.replace(/^[+-]/, '');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}e${sign}${digits.padStart(2, '0')}`;
}

/** Ruby `to_s` over expression values (nil is "", a Time prints as "2024-01-01 00:00:00 UTC"). */
export function rubyToString(value: ExpressionValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return rubyNumberToString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) {
    return `${value.getUTCFullYear()}-${pad(value.getUTCMonth() + 1)}-${pad(value.getUTCDate())} ${pad(
      value.getUTCHours(),
    )}:${pad(value.getUTCMinutes())}:${pad(value.getUTCSeconds())} UTC`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Flipper's `Typecast.to_boolean`: only true, 1, "true" and "1" are true. */
export function rubyToBoolean(value: ExpressionValue): boolean {
  return value === true || value === 1 || value === 'true' || value === '1';
}

// ISO 8601 as Flipper's Time expression is documented to take it ("date-time"), plus a date
// alone and a space instead of "T". Ruby's Time.parse reads a zone-less time in the process
// time zone; here it is UTC, which is what Ruby gives on servers running in UTC.
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Parses an ISO 8601 date or date-time; `undefined` when it is not one or names no real instant. */
export function parseTime(text: string): Date | undefined {
  const m = ISO_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = frac === '' ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  let utc = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), ms);
  const check = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls 2023-02-30 over into March; Ruby refuses it.
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  if (second === 60) utc += 1000;
  if (zone && zone.toUpperCase() !== 'Z' && zone.toUpperCase() !== 'UTC') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    utc -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  const date = new Date(utc);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
