/** Sharding arithmetic: i/n parsing, the documented hash (checked against sha256sum), and exactly-once coverage. */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { formatShard, parseShard, partition, shardOf, subscriptionsOfShard } from '../../src/bundle-ops/shard.js';

/** A deterministic list of subscription-shaped ids (no randomness in tests). */
function guids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const h = (i * 2654435761) >>> 0;
    const hex = h.toString(16).padStart(8, '0');
    return `${hex}-${hex.slice(0, 4)}-4${hex.slice(1, 4)}-8${hex.slice(5, 8)}-${String(i).padStart(12, '0')}`;
  });
}

describe('parseShard', () => {
  it('reads i/n with 1 <= i <= n', () => {
    assert.deepEqual(parseShard('1/1'), { index: 1, count: 1 });
    assert.deepEqual(parseShard('3/4'), { index: 3, count: 4 });
    assert.equal(formatShard(parseShard('12/16')), '12/16');
  });

  it('refuses everything else with a usage error naming the flag', () => {
    for (const bad of ['0/4', '5/4', '1/0', '1/', '/4', 'a/b', '1 /4', '1/4/2', '-1/4', '1.5/4', '', '1/1001']) {
      assert.throws(() => parseShard(bad), (err: unknown) => err instanceof UsageError && err.message.includes('--shard') && err.exitCode === 2, bad);
    }
  });
});

describe('shardOf', () => {
  it('is the first 4 bytes of SHA-256 of the lower-case id, mod n, plus one, exactly as docs/pipelines.md shows in a shell', () => {
    for (const id of ['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'AbCdEf01-2345-6789-abcd-ef0123456789']) {
      const hex = execFileSync('sh', ['-c', 'printf %s "$1" | tr A-F a-f | sha256sum | cut -c1-8', 'sh', id], { encoding: 'utf8' }).trim();
      for (const n of [1, 2, 3, 7, 1000]) assert.equal(shardOf(id, n), (parseInt(hex, 16) % n) + 1, `${id} ${n}`);
    }
  });

  it('ignores case and surrounding space, so any spelling of an id lands in the same shard', () => {
    const id = 'abcdef01-2345-6789-abcd-ef0123456789';
    assert.equal(shardOf(id.toUpperCase(), 5), shardOf(id, 5));
    assert.equal(shardOf(` ${id} `, 5), shardOf(id, 5));
  });

  it('puts the two demo subscriptions in different halves', () => {
    assert.equal(shardOf('00000000-0000-0000-0000-000000000001', 2), 2);
    assert.equal(shardOf('00000000-0000-0000-0000-000000000002', 2), 1);
  });
});

describe('partition', () => {
  it('covers every subscription exactly once, for any n, whatever the input order or case', () => {
    const ids = guids(300);
    for (const n of [1, 2, 3, 4, 7, 16]) {
      const parts = partition([...ids].reverse().map((s, i) => (i % 2 ? s.toUpperCase() : s)), n);
      assert.equal(parts.length, n);
      const flat = parts.flat();
      assert.equal(flat.length, ids.length, `n=${n}: no id twice`);
      assert.deepEqual([...flat].sort(), [...ids].sort(), `n=${n}: every id once`);
      for (const p of parts) assert.deepEqual(p, [...p].sort(), 'each shard sorted');
    }
  });

  it('does not depend on which other subscriptions a job saw: adding one moves nobody else', () => {
    const ids = guids(100);
    const before = partition(ids, 4);
    const after = partition([...ids, 'ffffffff-ffff-4fff-8fff-ffffffffffff'], 4);
    for (let i = 0; i < 4; i++) assert.deepEqual(after[i]!.filter((s) => s !== 'ffffffff-ffff-4fff-8fff-ffffffffffff'), before[i]);
  });

  it('balances a large estate: 1,000 subscriptions over 4 shards, each within 20% of 250', () => {
    const parts = partition(guids(1000), 4);
    for (const p of parts) assert.ok(p.length > 200 && p.length < 300, String(p.length));
  });

  it('drops duplicates', () => {
    assert.deepEqual(subscriptionsOfShard(['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000001'.toUpperCase()], { index: 2, count: 2 }), [
      '00000000-0000-0000-0000-000000000001',
    ]);
  });
});
