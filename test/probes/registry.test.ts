import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { getProbe, listProbes, PROBES, runProbe, runProbeDefinition } from '../../src/probes/registry.js';
import type { ProbeContext, ProbeDefinition, ProbeObservation } from '../../src/probes/types.js';

const ctx = (timeoutMs = 5000, signal?: AbortSignal): ProbeContext => ({ timeoutMs, now: () => new Date('2026-11-28T00:00:00Z'), env: {}, ...(signal ? { signal } : {}) });

function fake(name: string, run: ProbeDefinition['run'], writes = false): ProbeDefinition {
  return { name, writes, description: `fake ${name}`, run };
}

describe('probe registry', () => {
  it('lists every probe once; only blob-canary and rotation-drill write', () => {
    const names = listProbes().map((p) => p.name);
    assert.deepEqual(names, ['tls', 'postgres-session', 'keyvault-crypto', 'blob-canary', 'rotation-drill']);
    assert.equal(new Set(names).size, names.length);
    for (const p of PROBES) {
      assert.equal(p.writes, p.name === 'blob-canary' || p.name === 'rotation-drill', p.name);
      assert.ok(p.description.length > 40);
      assert.equal(typeof p.run, 'function');
    }
    assert.equal(getProbe('tls')?.name, 'tls');
    assert.equal(getProbe('nope'), undefined);
  });

  it('runProbe refuses an unknown probe with a usage error naming the known ones', async () => {
    await assert.rejects(runProbe('nope', 'x:1', {}, ctx()), (err: unknown) => err instanceof UsageError && /Known probes: tls, postgres-session, keyvault-crypto, blob-canary, rotation-drill/.test(err.format()));
  });

  it('a probe that never answers and ignores its signal still yields an error observation at the limit', async () => {
    const hang = fake('hang', () => new Promise<ProbeObservation>(() => undefined));
    const obs = await runProbeDefinition(hang, 'host:1', {}, ctx(200));
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_TIMEOUT');
    assert.match(obs.error!.message, /probe hang on host:1 did not finish within its 200 ms limit/);
    assert.equal(obs.probe, 'hang');
    assert.equal(obs.target, 'host:1');
  });

  it('hands the probe a signal that aborts at the limit, so it can stop and report itself', async () => {
    let sawAbort = false;
    const polite = fake('polite', (target, _o, c) =>
      new Promise<ProbeObservation>((resolve) => {
        c.signal!.addEventListener('abort', () => {
          sawAbort = true;
          resolve({ probe: 'polite', target, status: 'error', summary: 'stopped at the limit', observed: {}, startedAt: c.now().toISOString(), durationMs: 0, error: { code: 'E_OWN', message: 'stopped at the limit' } });
        });
      }),
    );
    const obs = await runProbeDefinition(polite, 'h:2', {}, ctx(100));
    assert.equal(sawAbort, true);
    assert.equal(obs.error?.code, 'E_OWN');
  });

  it('an outer cancellation ends the probe with an error observation', async () => {
    const controller = new AbortController();
    const hang = fake('hang', () => new Promise<ProbeObservation>(() => undefined));
    const pending = runProbeDefinition(hang, 'h:3', {}, ctx(60_000, controller.signal));
    controller.abort();
    const obs = await pending;
    assert.equal(obs.status, 'error');
    assert.match(obs.error!.message, /was cancelled/);
  });

  it('turns a throw into an error observation and redacts secrets in whatever a probe returns', async () => {
    const throws = fake('boom', async () => {
      throw Object.assign(new Error('socket hang up with Password=hunter2;'), { code: 'ECONNRESET' });
    });
    const obs = await runProbeDefinition(throws, 'h:4', {}, ctx());
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'ECONNRESET');
    assert.ok(!JSON.stringify(obs).includes('hunter2'));
    const leaky = fake('leaky', async (target, _o, c) => ({
      probe: 'leaky',
      target,
      status: 'compliant',
      summary: 'connected to postgres://admin:s3cret@db/x',
      observed: { token: 'abc.def.ghi', note: 'AccountKey=abcd1234;' },
      startedAt: c.now().toISOString(),
      durationMs: 1,
    }));
    const clean = await runProbeDefinition(leaky, 'h:5', {}, ctx());
    const text = JSON.stringify(clean);
    for (const s of ['s3cret', 'abc.def.ghi', 'abcd1234']) assert.ok(!text.includes(s), s);
    assert.equal(clean.status, 'compliant');
  });

  it('lets a usage error from a probe reach the caller (the CLI answers exit 2)', async () => {
    const picky = fake('picky', async () => {
      throw new UsageError('bad option');
    });
    await assert.rejects(runProbeDefinition(picky, 'h:6', {}, ctx()), UsageError);
  });
});
