// The MongoDB wire server of the bench: MONGODB_URL when set, otherwise FerretDB from the cached
// binary (built by scripts/ferretdb.sh), started with the same flags as test/setup/mongodb.ts but
// on a kept data directory (.cache/bench/ferretdb), so the seeded history survives between runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';
import { FERRETDB_VERSION } from '../../test/setup/mongodb.js';
import { REPO_ROOT } from '../../test/support/prisma-generate.js';

const BINARY =
  process.env.FERRETDB_BIN ??
  join(process.env.FERRETDB_CACHE_DIR ?? join(REPO_ROOT, '.cache/ferretdb', FERRETDB_VERSION), 'ferretdb');
const DATA_DIR = join(REPO_ROOT, '.cache/bench/ferretdb');
const HOW_TO = `build FerretDB once with "bash scripts/ferretdb.sh" (binary: ${BINARY}) or set MONGODB_URL to a running MongoDB`;

/** A connected client on the bench server, and how to stop what was started. */
export interface BenchMongo {
  url: string;
  client: MongoClient;
  server: string;
  close(): Promise<void>;
}

function startFerretDB(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    BINARY,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${DATA_DIR}/`,
      `--state-dir=${DATA_DIR}`,
      '--listen-addr=127.0.0.1:0',
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-format=json',
      '--log-level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    const recent: string[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`FerretDB reported no port within 20 s:\n${recent.join('\n')}`));
    }, 20_000);
    const onLine = (line: string) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      const match = /Listening on TCP 127\.0\.0\.1:(\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    };
    for (const stream of [child.stdout, child.stderr])
      if (stream) createInterface({ input: stream }).on('line', onLine);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`FerretDB could not start: ${error.message}; ${HOW_TO}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`FerretDB exited at start (code ${code}):\n${recent.join('\n')}`));
    });
  });
}

/** Connects to MONGODB_URL, or starts FerretDB on the kept data directory. */
export async function openMongo(): Promise<BenchMongo> {
  const external = process.env.MONGODB_URL;
  let child: ChildProcess | undefined;
  let url: string;
  if (external) {
    url = external;
  } else {
    if (!existsSync(BINARY)) throw new Error(`no FerretDB binary at ${BINARY}: ${HOW_TO}`);
    await mkdir(DATA_DIR, { recursive: true });
    const started = await startFerretDB();
    child = started.child;
    // Keep draining its output so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
    url = `mongodb://127.0.0.1:${started.port}/`;
  }
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000, maxPoolSize: 20 });
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  // Ctrl-C or a timeout's SIGTERM ends the run without an 'exit' event: stop the server first.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killOnExit();
      process.exit(130);
    });
  }
  try {
    await client.connect();
    const info = await client.db('admin').command({ buildInfo: 1 });
    const server =
      typeof info.ferretdbVersion === 'string'
        ? `FerretDB ${info.ferretdbVersion} (SQLite handler)`
        : `MongoDB ${String(info.version)}`;
    return {
      url,
      client,
      server,
      async close() {
        await client.close().catch(() => undefined);
        if (child && child.exitCode === null) {
          const exited = new Promise((resolve) => child?.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        process.removeListener('exit', killOnExit);
      },
    };
  } catch (error) {
    child?.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
    throw new Error(`cannot reach the MongoDB server at ${url}: ${(error as Error).message}; ${HOW_TO}`);
  }
}
