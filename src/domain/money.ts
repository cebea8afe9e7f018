/**
 * Exact decimal amounts. In code an amount is a bigint count of millionths ("micro"), never a
 * JavaScript float; in Postgres it is numeric(30, 6); on the wire a number or a decimal string.
 */
export type Micro = bigint;

export const SCALE = 6;
const FACTOR = 10n ** BigInt(SCALE);
/** Largest amount one leg may carry: 15 significant digits print exactly as a JSON number. */
export const MAX_LEG_MICRO: Micro = 1_000_000_000n * FACTOR - 1n;

const DECIMAL_RE = /^(-)?(\d{1,24})(?:\.(\d{1,}))?$/;

export type ParseAmountResult = { ok: true; value: Micro } | { ok: false; reason: string };

/** Parses a JSON number or decimal string into micro units, refusing anything inexact. */
export function parseAmount(input: unknown): ParseAmountResult {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, reason: 'must be a finite number' };
    text = String(input);
    if (/e/i.test(text)) return { ok: false, reason: 'is out of range or has more than 6 decimal places' };
  } else if (typeof input === 'string') {
    text = input.trim();
  } else {
    return { ok: false, reason: 'must be a number or a decimal string' };
  }
  const match = DECIMAL_RE.exec(text);
  if (!match) return { ok: false, reason: 'must be a decimal number such as 12.5' };
  const [, sign, whole, fraction = ''] = match;
  const trimmed = fraction.replace(/0+$/, '');
  if (trimmed.length > SCALE) return { ok: false, reason: 'has more than 6 decimal places' };
  const micro = BigInt(whole!) * FACTOR + BigInt(trimmed.padEnd(SCALE, '0') || '0');
  return { ok: true, value: sign ? -micro : micro };
}

/** Canonical decimal text: no trailing zeros, no exponent ("10", "0.3", "-2.5"). */
export function formatMicro(value: Micro): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = abs / FACTOR;
  const fraction = (abs % FACTOR).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** For JSON replies: a number whose printed form is the exact decimal (within 15 significant digits). */
export function microToNumber(value: Micro): number {
  return Number(formatMicro(value));
}

/** Postgres numeric text (e.g. "100.000000") to micro. */
export function microFromDb(text: string): Micro {
  const parsed = parseAmount(text);
  if (!parsed.ok) throw new Error(`unexpected numeric from database: ${text}`);
  return parsed.value;
}

/** Database numeric text → JSON number with the exact decimal. */
export function dbAmountToNumber(text: string): number {
  return microToNumber(microFromDb(text));
}
