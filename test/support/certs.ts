/** Test certificates made with the openssl CLI: a throw-away CA and a server certificate for 127.0.0.1 / localhost. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  caFile: string;
  caPem: string;
  certFile: string;
  certPem: string;
  keyFile: string;
  keyPem: string;
  /** Removes the directory. */
  cleanup: () => void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes a CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost) signed by it, valid `days` days. */
export function makeCertificates(days = 30): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'engram-certs-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', String(days), '-subj', '/CN=engram-audit test CA'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost/O=engram-audit tests'], dir);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', String(days), '-extfile', 'ext.cnf'], dir);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    caPem: read('ca.pem'),
    certFile: join(dir, 'server.pem'),
    certPem: read('server.pem'),
    keyFile: join(dir, 'server.key'),
    keyPem: read('server.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
