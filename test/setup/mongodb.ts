// Vitest globalSetup: one MongoDB wire-protocol server for the whole run. FerretDB (built once by
// scripts/ferretdb.sh) on a free loopback port with a throwaway data directory, or the server at
// MONGODB_URL when that is set. Tests read the URL with inject('mongodbUrl').
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the MongoDB-compatible server the tests use. */
    mongodbUrl: string;
    /** True when that server is the FerretDB started here (some MongoDB features are missing). */
    mongodbIsFerretDB: boolean;
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FERRETDB_VERSION = 'v1.24.2';
/** The cached FerretDB binary `scripts/ferretdb.sh` builds. */
export const BINARY =
  process.env.FERRETDB_BIN ??
  join(process.env.FERRETDB_CACHE_DIR ?? join(ROOT, '.cache/ferretdb', FERRETDB_VERSION), 'ferretdb');
const BUILD_SCRIPT = join(ROOT, 'scripts/ferretdb.sh');
const START_TIMEOUT_MS = 20_000;

const HOW_TO =
  `Build FerretDB once with "bash scripts/ferretdb.sh" (needs Go and the Go module proxy; the binary lands in ${BINARY}), ` +
  'or start any MongoDB 6+ server and set MONGODB_URL, e.g. MONGODB_URL=mongodb://127.0.0.1:27017';

function buildFerretDB(): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile('bash', [BUILD_SCRIPT], { cwd: ROOT, timeout: 15 * 60_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new Error(
            `building FerretDB failed: ${stderr.trim() || stdout.trim() || error.message}\n${HOW_TO}`,
          ),
        );
      } else resolvePromise();
    });
  });
}

async function ping(url: string, timeoutMs: number): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  try {
    await client.db('admin').command({ ping: 1 });
    const info = await client.db('admin').command({ buildInfo: 1 });
    return typeof info.ferretdbVersion === 'string';
  } finally {
    await client.close();
  }
}

/** Starts FerretDB on 127.0.0.1:0 and resolves with the port it reports in its log. */
/** Starts FerretDB on `dataDir` (which must exist) and resolves with its port once it listens. */
export function startFerretDB(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    BINARY,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/`,
      `--state-dir=${dataDir}`,
      '--listen-addr=127.0.0.1:0',
      // The default debug listener (127.0.0.1:8088) would collide between parallel runs.
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-format=json',
      '--log-level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolvePromise, reject) => {
    const recent: string[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `FerretDB did not report a listening port within ${START_TIMEOUT_MS} ms:\n${recent.join('\n')}\n${HOW_TO}`,
        ),
      );
    }, START_TIMEOUT_MS);
    const onLine = (line: string) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      const match = /Listening on TCP 127\.0\.0\.1:(\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, port: Number(match[1]) });
      }
    };
    for (const stream of [child.stdout, child.stderr])
      if (stream) createInterface({ input: stream }).on('line', onLine);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`FerretDB could not start (${BINARY}): ${error.message}\n${HOW_TO}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `FerretDB exited at start (code ${code}, signal ${signal}):\n${recent.join('\n')}\n${HOW_TO}`,
        ),
      );
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

/** A running MongoDB-compatible server for tests and benchmarks. */
export interface MongoServer {
  url: string;
  /** True for FerretDB, which lacks TTL indexes and atomic concurrent updates of one document. */
  isFerretDB: boolean;
  stop(): Promise<void>;
}

/**
 * The server at MONGODB_URL when set (checked with a ping), otherwise a FerretDB started on a free
 * loopback port with a throwaway data directory, built first if the binary is missing. Throws
 * with instructions when neither works. Benchmarks and examples outside vitest use this directly.
 */
export async function startMongoServer(): Promise<MongoServer> {
  const external = process.env.MONGODB_URL;
  if (external) {
    let isFerretDB: boolean;
    try {
      isFerretDB = await ping(external, 5_000);
    } catch (error) {
      throw new Error(
        `MONGODB_URL=${external} does not answer a ping: ${(error as Error).message}\n${HOW_TO}`,
      );
    }
    return { url: external, isFerretDB, stop: async () => {} };
  }

  if (!existsSync(BINARY)) await buildFerretDB();
  const dataDir = await mkdtemp(join(tmpdir(), 'flagtrail-ferretdb-'));
  let child: ChildProcess | undefined;
  // A runner killed without teardown must not leave the server behind.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const cleanUp = async () => {
    if (child) await stop(child);
    process.removeListener('exit', killOnExit);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const started = await startFerretDB(dataDir);
    child = started.child;
    // Keep draining its output so a chatty server never blocks on a full pipe.
    started.child.stdout?.resume();
    started.child.stderr?.resume();
    const url = `mongodb://127.0.0.1:${started.port}/`;
    await ping(url, START_TIMEOUT_MS);
    return { url, isFerretDB: true, stop: cleanUp };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startMongoServer();
  project.provide('mongodbUrl', server.url);
  project.provide('mongodbIsFerretDB', server.isFerretDB);
  return () => server.stop();
}
