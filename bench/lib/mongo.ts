// The MongoDB wire server of the bench: MONGODB_URL when set, otherwise FerretDB from the cached
// binary (built by scripts/ferretdb.sh), started by the test setup's startFerretDB but on a kept
// data directory (.cache/bench/ferretdb), so the seeded history survives between runs.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { BINARY, startFerretDB } from '../../test/setup/mongodb.js';
import { REPO_ROOT } from '../../test/support/prisma-generate.js';

const DATA_DIR = join(REPO_ROOT, '.cache/bench/ferretdb');
const HOW_TO = `build FerretDB once with "bash scripts/ferretdb.sh" (binary: ${BINARY}) or set MONGODB_URL to a running MongoDB`;

/** A connected client on the bench server, and how to stop what was started. */
export interface BenchMongo {
  url: string;
  client: MongoClient;
  server: string;
  close(): Promise<void>;
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
    const started = await startFerretDB(DATA_DIR);
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
