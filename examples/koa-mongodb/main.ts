// Koa + MongoDB demo. Needs a MongoDB-compatible server:
//   MONGODB_URL=mongodb://127.0.0.1:27017 npx tsx examples/koa-mongodb/main.ts [--serve] [--port N] [--db NAME]
// It drops and recreates the database NAME (default flagtrail_koa_demo), makes a few changes over
// HTTP as two users, prints the trail and exits; --serve keeps serving afterwards.
// No MongoDB at hand? scripts/ferretdb.sh builds FerretDB, a MongoDB wire-protocol server; then
//   mkdir -p /tmp/ferret && .cache/ferretdb/v1.24.2/ferretdb --handler=sqlite \
//     --sqlite-url=file:/tmp/ferret/ --state-dir=/tmp/ferret --listen-addr=127.0.0.1:27017 --telemetry=disable
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { createApp, USER_HEADER } from './app.js';

const STEPS: Array<[user: string, path: string, body: Record<string, unknown>]> = [
  ['ada', '/api/flags/checkout/actors/enable', { value: 'User;42' }],
  ['grace', '/api/flags/checkout/actors/enable', { value: 'User;42' }], // no-op: not recorded
  ['grace', '/api/flags/checkout/percentageOfActors/enable', { value: 25 }],
  ['ada', '/api/flags/search/boolean/enable', {}],
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'boolean', default: false },
      port: { type: 'string' },
      db: { type: 'string', default: 'flagtrail_koa_demo' },
    },
  });
  const url = process.env.MONGODB_URL;
  if (!url) {
    console.error(
      'set MONGODB_URL to a MongoDB server, e.g. MONGODB_URL=mongodb://127.0.0.1:27017 (see the top of this file)',
    );
    return 2;
  }
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    console.error(`cannot reach MongoDB at ${url}: ${(error as Error).message}`);
    await client.close();
    return 1;
  }
  const db = client.db(values.db);
  await db.dropDatabase();
  const { app } = createApp(db);
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(
      values.port === undefined ? (values.serve ? 3001 : 0) : Number(values.port),
      '127.0.0.1',
      resolve,
    );
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`fresh database ${values.db}; serving ${base}\n`);

  let ok = true;
  for (const [user, path, body] of STEPS) {
    const res = await fetch(new URL(path, base), {
      method: 'POST',
      headers: { [USER_HEADER]: user, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) ok = false;
    console.log(`${user.padEnd(6)} POST ${path} ${JSON.stringify(body)} -> ${res.status}`);
  }
  const history = (await (await fetch(new URL('/api/history', base))).json()) as {
    entries: Array<{
      createdAt: string;
      feature: string;
      actor: { label?: string; id: string };
      lines: string[];
    }>;
  };
  console.log(`\nAudit trail, newest first (${history.entries.length} entries):`);
  for (const e of history.entries) {
    console.log(
      `${e.createdAt}  ${(e.actor.label ?? e.actor.id).padEnd(6)} ${e.feature.padEnd(9)} ${e.lines.join('; ')}`,
    );
  }

  const stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await client.close();
  };
  if (!values.serve) {
    await stop();
    return ok ? 0 : 1;
  }
  console.log(`\nServing on ${base} (Ctrl-C to stop): curl ${base}/api/history`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stop();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  },
);
