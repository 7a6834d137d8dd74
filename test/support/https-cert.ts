/** Self-signed TLS certificates for loopback test servers, made with the openssl CLI at test start (never committed). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throw-away certificate and key on disk (some servers, e.g. Azurite, want files) and in memory. */
export interface TestCert {
  /** PEM certificate; pass it as `ca` to clients (it is its own issuer). */
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
  dir: string;
  /** Removes the temporary directory. */
  cleanup(): void;
}

/**
 * Makes a self-signed RSA-2048 certificate valid for 127.0.0.1 and localhost (plus `extraDns`), for two days.
 * Uses `openssl req -x509` so the certificate is a real X.509 v3 certificate with a subjectAltName, which Node's TLS
 * client requires for an IP host.
 */
export function makeTestCert(extraDns: string[] = []): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'engram-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const san = ['IP:127.0.0.1', 'DNS:localhost', ...extraDns.map((d) => `DNS:${d}`)].join(',');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
      '-subj', '/CN=127.0.0.1',
      '-addext', `subjectAltName=${san}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-keyout', keyFile, '-out', certFile,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    certPem: readFileSync(certFile, 'utf8'),
    keyPem: readFileSync(keyFile, 'utf8'),
    certFile,
    keyFile,
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
