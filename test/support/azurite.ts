/**
 * Starts Azurite 3.35 (blob service only) over HTTPS on 127.0.0.1 and a free port, in memory, for blob probe tests, and
 * stops it again. Clients trust its throw-away certificate through `ca` / an https.Agent (see `agent()`), which works
 * after Node has started, unlike NODE_EXTRA_CA_CERTS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { makeTestCert, type TestCert } from './https-cert.js';
import { repoRoot } from './paths.js';

/** Azurite's documented, public development account (not a secret, but probes must still never print it). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteInstance {
  port: number;
  /** `https://127.0.0.1:<port>/devstoreaccount1` (path-style, as Azurite serves). */
  blobEndpoint: string;
  accountName: string;
  accountKey: string;
  /** `DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;BlobEndpoint=...;` */
  connectionString: string;
  /** PEM of Azurite's certificate. */
  ca: string;
  certFile: string;
  /** Container URL for a name. */
  containerUrl(name: string): string;
  /** An https.Agent trusting Azurite (system roots kept). */
  agent(): Agent;
  stop(): Promise<void>;
}

/** A free loopback TCP port (closed again; Azurite binds it right after, the race is harmless in tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** Starts Azurite; rejects (after stopping it) when it does not report listening within `startTimeoutMs`. */
export async function startAzurite(opts: { cert?: TestCert; oauth?: boolean; startTimeoutMs?: number } = {}): Promise<AzuriteInstance> {
  const ownCert = !opts.cert;
  const cert = opts.cert ?? makeTestCert();
  const location = mkdtempSync(join(tmpdir(), 'engram-azurite-'));
  const port = await freePort();
  const bin = join(repoRoot, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  const args = [
    bin,
    '--blobHost', '127.0.0.1',
    '--blobPort', String(port),
    '--cert', cert.certFile,
    '--key', cert.keyFile,
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--inMemoryPersistence',
    '--extentMemoryLimit', '64',
    '--silent',
    ...(opts.oauth ? ['--oauth', 'basic'] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: location });
  const agents: Agent[] = [];
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    for (const a of agents) a.destroy();
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitPromise;
      clearTimeout(timer);
    }
    process.removeListener('exit', killOnExit);
    rmSync(location, { recursive: true, force: true });
    if (ownCert) cert.cleanup();
  };

  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within ${opts.startTimeoutMs ?? 20000} ms:\n${output}`)), opts.startTimeoutMs ?? 20000);
      const onData = (d: Buffer): void => {
        output += d.toString();
        if (/successfully listen/i.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited with code ${code}:\n${output}`));
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const blobEndpoint = `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    port,
    blobEndpoint,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=https;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    ca: cert.certPem,
    certFile: cert.certFile,
    containerUrl: (name) => `${blobEndpoint}/${name}`,
    agent() {
      const a = new Agent({ ca: [...rootCertificates, cert.certPem], keepAlive: false });
      agents.push(a);
      return a;
    },
    stop,
  };
}
