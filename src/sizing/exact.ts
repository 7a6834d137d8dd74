/** Exact decimal arithmetic for the sizing formulas, so a ceil() never rounds up on binary floating-point noise. */
import { InputError } from '../errors.js';

/** A non-negative rational number `num / den` with BigInt parts. */
export interface Rational {
  num: bigint;
  den: bigint;
}

/**
 * Converts a finite, non-negative JavaScript number to the decimal it prints as (`1.1` is 11/10, not the nearest binary
 * fraction): the value a person typed is the value the formula uses.
 */
export function decimalToRational(value: number, field = 'value'): Rational {
  if (!Number.isFinite(value) || value < 0) {
    throw new InputError('E_SIZING_NUMBER', `${field} must be a finite number >= 0, got ${value}`, { field });
  }
  const text = value.toString();
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!m) throw new InputError('E_SIZING_NUMBER', `${field} is not a plain decimal: ${text}`, { field });
  const frac = m[2] ?? '';
  const exp = Number(m[3] ?? '0') - frac.length;
  let num = BigInt(m[1] + frac);
  let den = 1n;
  if (exp >= 0) num *= 10n ** BigInt(exp);
  else den = 10n ** BigInt(-exp);
  return reduce({ num, den });
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/** Lowest terms. */
export function reduce(r: Rational): Rational {
  const g = gcd(r.num, r.den) || 1n;
  return { num: r.num / g, den: r.den / g };
}

/** ceil(num / den) for non-negative BigInts. */
export function ceilDiv(num: bigint, den: bigint): bigint {
  return (num + den - 1n) / den;
}

/** The rational as the nearest double, for display and JSON. */
export function toNumber(r: Rational): number {
  return Number(r.num) / Number(r.den);
}
