/**
 * Runs the fake Azure in a child process (for the benchmark: its CPU and memory stay out of the measured process).
 * Protocol over the IPC channel: the parent sends `{ start: ChildStartOptions }`, the child answers `{ url, ca }`;
 * `{ stats: true }` answers `{ stats }`; `{ close: true }` closes the server and exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateEstate, type EstateOptions } from './estate.js';
import { startFakeAzure, type FakeAzure, type FakeAzureOptions, type FakeAzureStats } from './server.js';

/** What the child needs: the estate's size and seed (it regenerates the same estate) and the server options. */
export interface ChildStartOptions extends Omit<FakeAzureOptions, 'estate'> {
  estate: EstateOptions;
}

/** The parent's handle on a fake Azure child. */
export interface FakeAzureChild {
  url: string;
  ca: string;
  pid: number;
  stats(): Promise<FakeAzureStats>;
  close(): Promise<void>;
}

/** Forks this module as a child running the fake Azure; resolves once it listens. */
export async function startFakeAzureChild(options: ChildStartOptions): Promise<FakeAzureChild> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(key: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (key in m) {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m as T);
        }
      };
      const onExit = (code: number | null) => reject(new Error(`fake Azure child exited (${code}) before answering ${key}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = next<{ url: string; ca: string }>('url');
  child.send({ start: options });
  const { url, ca } = await ready;
  return {
    url,
    ca,
    pid: child.pid!,
    async stats() {
      const s = next<{ stats: FakeAzureStats }>('stats');
      child.send({ stats: true });
      return (await s).stats;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ close: true });
      await exited;
    },
  };
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  let server: FakeAzure | undefined;
  process.on('message', (m: { start?: ChildStartOptions; stats?: boolean; close?: boolean }) => {
    void (async () => {
      if (m.start) {
        const { estate, ...rest } = m.start;
        server = await startFakeAzure({ ...rest, estate: generateEstate(estate) });
        process.send!({ url: server.url, ca: server.ca });
      } else if (m.stats) {
        process.send!({ stats: server?.stats });
      } else if (m.close) {
        await server?.close();
        server = undefined;
        process.disconnect();
      }
    })();
  });
  // The parent dying (or closing) disconnects IPC: close the server so the process ends on its own.
  process.on('disconnect', () => void server?.close());
}
