// `npm run demo`: prepares the SQLite database from scratch, starts the Express app, makes a
// scripted series of flag changes over HTTP as two users, prints the resulting audit trail and
// exits. `npm run demo -- --serve` keeps serving afterwards (`--port N`, default 3000).
// `--db FILE` puts the database elsewhere (default examples/express-sqlite/generated/demo.db).
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApp, USER_HEADER } from './app.js';
import { createDatabase, GENERATED_DIR, generateClient, openPrisma } from './database.js';

interface Step {
  user: string;
  say: string;
  method: 'POST' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
  /** The status this step should get; the bad-input steps expect 400. */
  expect: number;
}

const STEPS: Step[] = [
  {
    user: 'ada',
    say: 'adds flag "checkout"',
    method: 'POST',
    path: '/api/flags/checkout',
    body: { reason: 'new checkout flow' },
    expect: 200,
  },
  {
    user: 'ada',
    say: 'enables checkout for actor User;42',
    method: 'POST',
    path: '/api/flags/checkout/actors/enable',
    body: { value: 'User;42', reason: 'try it on one account' },
    expect: 200,
  },
  {
    user: 'grace',
    say: 'enables checkout for actor User;42 again',
    method: 'POST',
    path: '/api/flags/checkout/actors/enable',
    body: { value: 'User;42' },
    expect: 200,
  },
  {
    user: 'grace',
    say: 'rolls checkout out to 10% of actors',
    method: 'POST',
    path: '/api/flags/checkout/percentageOfActors/enable',
    body: { value: 10, reason: 'start rollout' },
    expect: 200,
  },
  {
    user: 'grace',
    say: 'rolls checkout out to 25% of actors',
    method: 'POST',
    path: '/api/flags/checkout/percentageOfActors/enable',
    body: { value: 25, reason: 'metrics look good' },
    expect: 200,
  },
  {
    user: 'ada',
    say: 'enables checkout for group staff',
    method: 'POST',
    path: '/api/flags/checkout/groups/enable',
    body: { value: 'staff' },
    expect: 200,
  },
  {
    user: 'grace',
    say: 'turns flag "search" fully on',
    method: 'POST',
    path: '/api/flags/search/boolean/enable',
    body: { reason: 'launch' },
    expect: 200,
  },
  {
    user: 'ada',
    say: 'removes actor User;42 from checkout',
    method: 'POST',
    path: '/api/flags/checkout/actors/disable',
    body: { value: 'User;42', reason: 'covered by the rollout' },
    expect: 200,
  },
  {
    user: 'grace',
    say: 'tries a 150% rollout',
    method: 'POST',
    path: '/api/flags/checkout/percentageOfActors/enable',
    body: { value: 150 },
    expect: 400,
  },
  {
    user: 'ada',
    say: 'tries an unknown gate',
    method: 'POST',
    path: '/api/flags/checkout/colour/enable',
    body: { value: 'blue' },
    expect: 400,
  },
];

interface EntryView {
  id: string;
  createdAt: string;
  feature: string;
  actor: { id: string; label?: string };
  context: { reason?: string };
  lines: string[];
}

async function call(base: string, method: string, url: string, user?: string, body?: unknown) {
  const res = await fetch(new URL(url, base), {
    method,
    headers: {
      ...(user ? { [USER_HEADER]: user } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function newestEntryId(base: string): Promise<string | null> {
  const { json } = await call(base, 'GET', '/api/history?limit=1');
  return (json.entries as EntryView[])[0]?.id ?? null;
}

/** Makes the scripted changes; returns false when a step got a status it did not expect. */
async function runScript(base: string): Promise<boolean> {
  console.log('Scripted changes over HTTP:');
  let ok = true;
  for (const step of STEPS) {
    const before = await newestEntryId(base);
    const res = await call(base, step.method, step.path, step.user, step.body);
    let outcome: string;
    if (res.status === 200) {
      outcome = (await newestEntryId(base)) === before ? 'no change, nothing recorded' : 'recorded';
    } else {
      outcome = `${res.json.code}: ${res.json.message}`;
    }
    if (res.status !== step.expect) ok = false;
    const mark = res.status === step.expect ? ' ' : '!';
    console.log(`${mark} ${step.user.padEnd(6)} ${step.say.padEnd(42)} ${res.status}  ${outcome}`);
  }
  return ok;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The gates that are not at their default, e.g. `groups: staff; percentageOfActors: 25`. */
function openGates(gates: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [gate, value] of Object.entries(gates)) {
    if (value === false || value === 0 || value === null) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) parts.push(`${gate}: ${value.join(', ')}`);
    } else parts.push(value === true ? gate : `${gate}: ${JSON.stringify(value)}`);
  }
  return parts.join('; ') || '-';
}

async function printState(base: string): Promise<void> {
  const { json } = await call(base, 'GET', '/api/flags');
  const flags = json.flags as Array<{ feature: string; state: string; gates: Record<string, unknown> }>;
  console.log('\nFlags now:');
  console.log(
    table(
      ['flag', 'state', 'open gates'],
      flags.map((f) => [f.feature, f.state, openGates(f.gates)]),
    ),
  );

  const { json: history } = await call(base, 'GET', '/api/history?limit=1000');
  const entries = (history.entries as EntryView[]).slice().reverse();
  console.log(`\nAudit trail, oldest first (${entries.length} entries; GET /api/history):`);
  console.log(
    table(
      ['#', 'time (UTC)', 'who', 'flag', 'change', 'reason'],
      entries.map((e, i) => [
        String(i + 1),
        e.createdAt.slice(11, 23),
        e.actor.label ?? e.actor.id,
        e.feature,
        e.lines.join('; '),
        e.context.reason ?? '',
      ]),
    ),
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'boolean', default: false },
      port: { type: 'string' },
      db: { type: 'string' },
    },
  });
  const port = values.port === undefined ? (values.serve ? 3000 : 0) : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got ${values.port}`);
    return 2;
  }
  const dbFile = path.resolve(values.db ?? path.join(GENERATED_DIR, 'demo.db'));

  const started = performance.now();
  const generated = await generateClient();
  await createDatabase(dbFile);
  const prisma = await openPrisma(dbFile);
  const { app } = createApp(prisma);
  const server = app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ms = Math.round(performance.now() - started);
  console.log(
    `Prisma client ${generated ? 'generated' : 'up to date'}; fresh SQLite database ${path.relative(process.cwd(), dbFile)}; serving ${base} (ready in ${ms} ms)\n`,
  );

  const stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await prisma.$disconnect();
  };

  let ok: boolean;
  try {
    ok = await runScript(base);
    await printState(base);
  } catch (error) {
    await stop();
    throw error;
  }
  if (!ok) console.error('\nsome steps did not get the status they expected (marked !)');

  if (!values.serve) {
    await stop();
    return ok ? 0 : 1;
  }
  console.log(`\nServing the admin API on ${base} (Ctrl-C to stop). Try:`);
  console.log(`  curl ${base}/api/flags`);
  console.log(`  curl '${base}/api/history?feature=checkout&actorId=u-grace'`);
  console.log(
    `  curl -X POST -H '${USER_HEADER}: ada' -H 'content-type: application/json' -d '{"value": 50, "reason": "half"}' ${base}/api/flags/checkout/percentageOfActors/enable`,
  );
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
