/**
 * PGlite (PostgreSQL in WebAssembly) with the pgvector extension, served over the PostgreSQL wire protocol by
 * pglite-socket on 127.0.0.1. No TLS: it answers N to an SSLRequest. Startup takes a few seconds.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { freePort } from './tls-servers.js';

export interface PgliteServer {
  host: string;
  port: number;
  /** The pgvector version `create extension vector` installed, read in-process (the probe must report the same). */
  vectorVersion: string;
  stop: () => Promise<void>;
}

/** Starts PGlite with `create extension vector` done, behind a socket server. */
export async function startPglite(opts: { createVector?: boolean; settings?: Record<string, string> } = {}): Promise<PgliteServer> {
  const db = await PGlite.create({ extensions: { vector } });
  // PGlite is one backend shared by every socket client, so a session setting made here is what clients see: this is how
  // the tests give it Azure's azure.extensions / require_secure_transport.
  for (const [name, value] of Object.entries(opts.settings ?? {})) {
    await db.query('select set_config($1, $2, false)', [name, value]);
  }
  let vectorVersion = '';
  if (opts.createVector !== false) {
    await db.exec('create extension if not exists vector');
    const r = await db.query<{ extversion: string }>("select extversion from pg_extension where extname = 'vector'");
    vectorVersion = r.rows[0]?.extversion ?? '';
  }
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 4 });
  await server.start();
  return {
    host: '127.0.0.1',
    port,
    vectorVersion,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
