/**
 * Loopback servers for the tls probe tests: Node TLS servers with different protocol floors, an HTTPS server that refuses
 * old TLS at the HTTP layer (as Azure Storage does), a TCP server that never answers, a PostgreSQL-like server that
 * answers N to the SSLRequest, and a port with nothing listening.
 */
import { spawn } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

export interface RunningServer {
  port: number;
  close: () => Promise<void>;
  /** Connections the server still holds open (a probe must leave none behind). */
  openConnections: () => number;
}

function track(server: net.Server): { close: () => Promise<void>; sockets: Set<net.Socket> } {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return { close, sockets };
}

async function listen(server: net.Server): Promise<RunningServer> {
  const { close, sockets } = track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close, openConnections: () => [...sockets].filter((s) => !s.destroyed).length };
}

/** A TLS server that accepts `minVersion`..`maxVersion`; says "hello" and closes. */
export function startTlsServer(opts: { certPem: string; keyPem: string; minVersion: tls.SecureVersion; maxVersion?: tls.SecureVersion; ciphers?: string }): Promise<RunningServer> {
  const server = tls.createServer(
    {
      cert: opts.certPem,
      key: opts.keyPem,
      minVersion: opts.minVersion,
      maxVersion: opts.maxVersion ?? 'TLSv1.3',
      ...(opts.ciphers ? { ciphers: opts.ciphers } : {}),
    },
    (s) => s.end('hello\n'),
  );
  server.on('tlsClientError', () => undefined);
  return listen(server);
}

/**
 * An HTTPS server that completes handshakes from TLS 1.0 up but answers 400 to any request over TLS < 1.2, like Azure
 * Storage with minimumTlsVersion TLS1_2.
 */
export function startHttpsFloorServer(opts: { certPem: string; keyPem: string; answerOldWith?: number; answerModernWith?: number }): Promise<RunningServer> {
  const server = https.createServer(
    { cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
    (req, res) => {
      const proto = (req.socket as tls.TLSSocket).getProtocol();
      if (proto === 'TLSv1' || proto === 'TLSv1.1') {
        res.writeHead(opts.answerOldWith ?? 400, { 'x-ms-error-code': 'TlsVersionNotPermitted', 'content-type': 'application/xml' });
        res.end('<Error><Code>TlsVersionNotPermitted</Code><Message>The TLS version of the connection is not permitted on this storage account.</Message></Error>');
        return;
      }
      res.writeHead(opts.answerModernWith ?? 403, { 'x-ms-error-code': 'AuthenticationFailed' });
      res.end('<Error><Code>AuthenticationFailed</Code></Error>');
    },
  );
  server.on('tlsClientError', () => undefined);
  return listen(server);
}

/** Accepts TCP connections and never says a word. */
export function startSilentServer(): Promise<RunningServer> {
  // Reads (so it notices when the client goes away) but never writes.
  const server = net.createServer((s) => {
    s.resume();
    s.on('error', () => undefined);
  });
  return listen(server);
}

/** A plaintext HTTP server: answers anything with an HTTP 400 in clear text, as a TLS port mistaken for HTTP would. */
export function startPlaintextHttpServer(): Promise<RunningServer> {
  const server = net.createServer((s) => {
    s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    s.on('error', () => undefined);
  });
  return listen(server);
}

/** Answers PostgreSQL's SSLRequest with N (a server without TLS), then closes. */
export function startNoTlsPostgresLike(): Promise<RunningServer> {
  const server = net.createServer((s) => {
    s.once('data', () => s.end('N'));
    s.on('error', () => undefined);
  });
  return listen(server);
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A free port on 127.0.0.1 for a server started elsewhere. */
export const freePort = closedPort;

/**
 * Runs `openssl s_client` for one protocol version and says whether the handshake completed: the independent
 * cross-check of the probe. `starttls` adds `-starttls postgres`.
 */
export function opensslAccepts(
  port: number,
  version: 'tls1' | 'tls1_1' | 'tls1_2' | 'tls1_3',
  starttls?: 'postgres',
): Promise<{ accepted: boolean; protocol?: string; output: string }> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, `-${version}`, '-brief'];
  if (version === 'tls1' || version === 'tls1_1') args.push('-cipher', 'DEFAULT:@SECLEVEL=0');
  if (starttls) args.push('-starttls', starttls);
  // Asynchronous on purpose: the server under test may live in this very process.
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const m = /Protocol version:\s*(\S+)/.exec(output);
      resolve({ accepted: m !== null, ...(m ? { protocol: m[1] } : {}), output });
    });
    child.stdin.end();
  });
}
