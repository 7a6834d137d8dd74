/**
 * Array helpers that stay safe at estate scale: `a.push(...b)` and `Math.min(...b)` pass every element as an argument
 * and throw "Maximum call stack size exceeded" past roughly 120,000 elements (one check's results on a large estate).
 */

/** Appends every item of `items` to `to`, in order. */
export function append<T>(to: T[], items: Iterable<T>): T[] {
  for (const item of items) to.push(item);
  return to;
}

/** The smallest of `values` (Infinity when empty), without spreading them into arguments. */
export function minOf(values: Iterable<number>): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min;
}
