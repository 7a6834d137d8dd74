import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TokenCredential } from '@azure/core-auth';
import { CREDENTIAL_SOURCES, MANAGEMENT_SCOPE, noCredentialsError, resolveCredential } from '../../src/collect/credential.js';
import { InputError } from '../../src/errors.js';

test('resolveCredential asks for a management token up front and returns the credential', async () => {
  const scopes: string[] = [];
  const cred: TokenCredential = { getToken: async (s) => (scopes.push(String(s)), { token: 't', expiresOnTimestamp: 1, tokenType: 'Bearer' }) };
  assert.equal(await resolveCredential(() => cred), cred);
  assert.deepEqual(scopes, [MANAGEMENT_SCOPE]);
});

test('with no credentials: E_NO_CREDENTIALS naming every source and the replay alternative, never the token text', async () => {
  const failing: TokenCredential = {
    getToken: async () => {
      throw new Error('CredentialUnavailableError: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl rejected');
    },
  };
  await assert.rejects(resolveCredential(() => failing), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.equal(err.code, 'E_NO_CREDENTIALS');
    assert.equal(err.exitCode, 2);
    const text = err.format();
    for (const source of ['environment variables', 'workload identity', 'managed identity', 'Visual Studio Code', 'az login', 'Azure PowerShell', 'Azure Developer CLI']) {
      assert.ok(text.includes(source), `${source} missing from:\n${text}`);
    }
    assert.ok(text.includes('--replay fixtures/demo/replay'));
    assert.ok(!text.includes('eyJhbGciOiJIUzI1NiJ9'), 'a token must never be printed');
    return true;
  });
  assert.equal(CREDENTIAL_SOURCES.length, 7);
  assert.equal(noCredentialsError().code, 'E_NO_CREDENTIALS');
});

test('a credential factory that throws is reported the same way', async () => {
  await assert.rejects(
    resolveCredential(() => {
      throw new Error('boom');
    }),
    (err: unknown) => err instanceof InputError && err.code === 'E_NO_CREDENTIALS' && err.message.includes('Last error: boom'),
  );
});

test('the real DefaultAzureCredential with every source unavailable gives the E_NO_CREDENTIALS text', async () => {
  const { execFile } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const home = mkdtempSync(join(tmpdir(), 'engram-nocred-'));
  const mod = fileURLToPath(new URL('../../src/collect/credential.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then(async (m) => { try { await m.resolveCredential(); console.log('UNEXPECTED'); } catch (e) { console.log(e.code); console.log(e.format()); } });`;
  try {
    // No AZURE_* variables, no az/pwsh/azd on PATH, an empty HOME: every source fails fast. The managed identity
    // source would otherwise ping IMDS at 169.254.169.254; pointing it at a closed loopback port keeps every byte of
    // this test on 127.0.0.1.
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { env: { HOME: home, PATH: join(home, 'bin'), AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9' }, timeout: 60_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    assert.match(out, /^E_NO_CREDENTIALS$/m);
    assert.match(out, /Azure CLI \(`az login`\)/);
    assert.match(out, /--replay fixtures\/demo\/replay/);
    assert.doesNotMatch(out, /UNEXPECTED/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
