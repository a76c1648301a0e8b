// Four processes × 500 audited writes on the same flags, on one PostgreSQL store and one MongoDB
// store. In-process serialization cannot order writes of different processes, so each process's
// adapter takes a cross-process feature lock through the FlagAdapter `lockFeature` hook (a
// PostgreSQL advisory lock in PrismaFlagAdapter, a lease document in MongoFlagAdapter's
// flagtrail_locks collection). Every write adds one new member, so the
// true order of a flag's states is the member count, and each entry's `before` can be checked
// against the state the flag really had.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statesEqual } from '../../src/core/gates.js';
import { readState } from '../../src/core/state.js';
import type { AuditEntry, AuditStore, FlagAdapter } from '../../src/core/types.js';
import { MongoAuditStore, MongoFlagAdapter } from '../../src/mongodb/index.js';
import { PrismaAuditStore, PrismaFlagAdapter } from '../../src/prisma/index.js';
import { useMongoDatabase } from '../support/mongodb.js';
import { createPrismaTestDatabase, type PrismaTestDatabase } from '../support/prisma-db.js';
import { startFixture } from './processes.js';
import { allEntries } from './workload.js';

const WORKERS = 4;
const WRITES = 500;
const FEATURES = Array.from({ length: 12 }, (_, i) => `flag-${i}`);
// FLAGTRAIL_NO_LOCK=1 runs the workers without the lock hook, to see what goes wrong without it.
const LOCK = process.env.FLAGTRAIL_NO_LOCK === '1' ? 'nolock' : 'lock';

interface Report {
  entries: number;
  uniqueIds: number;
  /** Entries whose `before` is not the state the flag had just before that write. */
  wrongBefore: number;
  misattributed: number;
  finalMismatch: string[];
}

async function verify(store: AuditStore, flags: FlagAdapter): Promise<Report> {
  const entries = await allEntries(store);
  const size = (e: AuditEntry['before']) => e.gates.actors.length + e.gates.groups.length;
  let wrongBefore = 0;
  const finalMismatch: string[] = [];
  for (const feature of FEATURES) {
    // The flags were registered before the workers started, so every chain starts at size 0.
    const chain = entries
      .filter((e) => e.feature === feature)
      .sort((a, b) => size(a.before) - size(b.before));
    chain.forEach((entry, k) => {
      const previous = chain[k - 1];
      const ok =
        size(entry.before) === k &&
        size(entry.after) === k + 1 &&
        (previous === undefined || statesEqual(previous.after, entry.before));
      if (!ok) wrongBefore += 1;
    });
    const last = chain.at(-1);
    if (!last || !statesEqual(await readState(flags, feature), last.after)) finalMismatch.push(feature);
  }
  const misattributed = entries.filter((e) => {
    const worker = e.actor.id.slice('worker-'.length);
    return !String(e.value).slice(1).startsWith(`${worker}-`);
  }).length;
  return {
    entries: entries.length,
    uniqueIds: new Set(entries.map((e) => e.id)).size,
    wrongBefore,
    misattributed,
    finalMismatch,
  };
}

async function runWorkers(backend: string, url: string, database: string) {
  let ready = 0;
  let go: () => void = () => undefined;
  const allReady = new Promise<void>((resolve) => {
    go = resolve;
  });
  const children = Array.from({ length: WORKERS }, (_, w) =>
    startFixture(
      'worker.ts',
      [backend, url, database, String(w), String(WRITES), String(FEATURES.length), LOCK],
      (line) => {
        if (line === 'ready' && ++ready === WORKERS) go();
      },
    ),
  );
  // Start line for all at once, so their writes overlap for real.
  await Promise.race([allReady, Promise.all(children.map((c) => c.exit))]);
  for (const c of children) c.process.stdin!.end('go\n');
  const results = await Promise.all(children.map((c) => c.exit));
  for (const r of results) {
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ written: WRITES, errors: 0 });
  }
}

const expected: Report = {
  entries: WORKERS * WRITES,
  uniqueIds: WORKERS * WRITES,
  wrongBefore: 0,
  misattributed: 0,
  finalMismatch: [],
};

describe('4 processes × 500 writes on PostgreSQL (Prisma)', () => {
  let db: PrismaTestDatabase;
  beforeAll(async () => {
    db = await createPrismaTestDatabase('postgresql');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('stores all 2,000 entries once, each with the real state before it', async () => {
    const flags = new PrismaFlagAdapter(db.prisma);
    for (const f of FEATURES) await flags.add(f);
    await runWorkers('postgresql', db.url, db.database);
    expect(await verify(new PrismaAuditStore(db.prisma), flags)).toEqual(expected);
  }, 180_000);
});

describe('4 processes × 500 writes on MongoDB', () => {
  const mongo = useMongoDatabase('many');

  it('stores all 2,000 entries once, each with the real state before it', async () => {
    const flags = new MongoFlagAdapter(mongo().db);
    for (const f of FEATURES) await flags.add(f);
    await runWorkers('mongodb', mongo().url, mongo().db.databaseName);
    expect(await verify(new MongoAuditStore(mongo().db), flags)).toEqual(expected);
    // Every lease was released (none left to expire).
    expect(await mongo().db.collection('flagtrail_locks').countDocuments()).toBe(0);
  }, 180_000);
});
