import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { ceilDiv, decimalToRational } from '../../src/sizing/exact.js';

test('decimals become the fraction a person typed', () => {
  assert.deepEqual(decimalToRational(1.1), { num: 11n, den: 10n });
  assert.deepEqual(decimalToRational(2), { num: 2n, den: 1n });
  assert.deepEqual(decimalToRational(2.5), { num: 5n, den: 2n });
  assert.deepEqual(decimalToRational(1e-7), { num: 1n, den: 10_000_000n });
  assert.deepEqual(decimalToRational(1e21), { num: 10n ** 21n, den: 1n });
  assert.throws(() => decimalToRational(-1, 'growth'), (e: unknown) => e instanceof InputError && e.details.field === 'growth');
  assert.throws(() => decimalToRational(Number.NaN), InputError);
});

test('ceilDiv rounds up only when there is a remainder', () => {
  assert.equal(ceilDiv(10n, 5n), 2n);
  assert.equal(ceilDiv(11n, 5n), 3n);
  assert.equal(ceilDiv(0n, 5n), 0n);
});
