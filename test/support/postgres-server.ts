/**
 * Real PostgreSQL 15 servers for probe tests (Debian's /usr/lib/postgresql/15/bin), on 127.0.0.1 and a free port, with
 * a test certificate. `strict`: TLS 1.2 minimum, hostssl scram only, non-TLS rejected by pg_hba. `weak`: TLS 1.0 allowed
 * at security level 0 and non-TLS logins accepted. initdb refuses root, so as root everything runs as `postgres`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './tls-servers.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  /** The superuser's password (tests pass it to the probe through an environment variable). */
  password: string;
  mode: 'strict' | 'weak';
  stop: () => Promise<void>;
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Starts a PostgreSQL server and waits until it accepts connections (about 1.5 s). */
export async function startPostgres(opts: { mode: 'strict' | 'weak'; certPem: string; keyPem: string }): Promise<PostgresServer> {
  const ids = postgresIds();
  const dir = mkdtempSync(join(tmpdir(), `engram-pg-${opts.mode}-`));
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const own = (p: string): void => {
    if (ids) chownSync(p, ids.uid, ids.gid);
  };
  own(dir);
  writeFileSync(join(dir, 'pwfile'), `${password}\n`, { mode: 0o600 });
  own(join(dir, 'pwfile'));
  writeFileSync(join(dir, 'server.crt'), opts.certPem, { mode: 0o644 });
  writeFileSync(join(dir, 'server.key'), opts.keyPem, { mode: 0o600 });
  own(join(dir, 'server.crt'));
  own(join(dir, 'server.key'));

  const initdbArgs = ['-D', data, '-U', 'postgres', `--pwfile=${join(dir, 'pwfile')}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-sync', '--no-instructions'];
  if (ids) execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'initdb'), ...initdbArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  else execFileSync(join(PG_BIN, 'initdb'), initdbArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  rmSync(join(dir, 'pwfile'));

  const port = await freePort();
  const conf = [
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${dir}'`,
    'ssl = on',
    `ssl_cert_file = '${join(dir, 'server.crt')}'`,
    `ssl_key_file = '${join(dir, 'server.key')}'`,
    opts.mode === 'strict' ? "ssl_min_protocol_version = 'TLSv1.2'" : "ssl_min_protocol_version = 'TLSv1'",
    ...(opts.mode === 'weak' ? ["ssl_ciphers = 'DEFAULT:@SECLEVEL=0'"] : []),
    'fsync = off',
    'max_connections = 20',
    'shared_buffers = 16MB',
    'logging_collector = off',
  ];
  appendFileSync(join(data, 'postgresql.conf'), `\n${conf.join('\n')}\n`);
  const hba =
    opts.mode === 'strict'
      ? ['local all all scram-sha-256', 'hostssl all all 127.0.0.1/32 scram-sha-256', 'hostnossl all all 0.0.0.0/0 reject']
      : ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'];
  writeFileSync(join(data, 'pg_hba.conf'), `${hba.join('\n')}\n`);
  own(join(data, 'pg_hba.conf'));
  chmodSync(join(data, 'pg_hba.conf'), 0o600);

  const child: ChildProcess = spawn(join(PG_BIN, 'postgres'), ['-D', data], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
  });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postgres (${opts.mode}) did not start within 30 s:\n${log}`)), 30_000);
      child.stderr!.on('data', (d: Buffer) => {
        log += d.toString('utf8');
        if (log.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`postgres (${opts.mode}) exited with ${code}:\n${log}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { host: '127.0.0.1', port, user: 'postgres', password, mode: opts.mode, stop };
}
