/** The scale-safe array helpers: past ~120,000 elements `push(...x)` and `Math.min(...x)` throw; these must not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { append, minOf } from '../../src/util/arrays.js';

test('append keeps order and takes more elements than spreading into arguments can', () => {
  const big = Array.from({ length: 300_000 }, (_, i) => i);
  assert.throws(() => [].push(...(big as never[])), RangeError, 'the spread this helper replaces does overflow');
  const out = append([-1], big);
  assert.equal(out.length, 300_001);
  assert.equal(out[0], -1);
  assert.equal(out[300_000], 299_999);
  assert.deepEqual(append([1], new Set([2, 3])), [1, 2, 3]);
});

test('minOf finds the smallest value of a large list, and Infinity for none', () => {
  const big = Array.from({ length: 300_000 }, (_, i) => 1_000_000 - i);
  assert.equal(minOf(big), 700_001);
  assert.equal(minOf([]), Infinity);
  assert.equal(minOf([3, -2, 5]), -2);
});
