// Hostile input across the public API, the middleware and the stores, one test per case. Each is
// either refused with a typed FlagTrailError (and then nothing was written: flags and trail are as
// before) or handled as documented in docs/reliability.md. Nothing crashes.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withActor } from '../../src/core/actor-context.js';
import { type AuditedAdapter, withAuditTrail } from '../../src/core/audited-adapter.js';
import { type FlagTrailErrorCode, isFlagTrailError } from '../../src/core/errors.js';
import { Flags } from '../../src/core/flags.js';
import type { AuditEntry, AuditStore, GateKey, GateValues, HistoryQuery } from '../../src/core/types.js';
import { auditActor } from '../../src/express/index.js';
import { MemoryAuditStore, MemoryFlagAdapter } from '../../src/memory/index.js';
import { MongoAuditStore, MongoFlagAdapter } from '../../src/mongodb/index.js';
import { PrismaAuditStore, PrismaFlagAdapter } from '../../src/prisma/index.js';
import { makeAuditEntry } from '../../src/testing/entries.js';
import { useMongoDatabase } from '../support/mongodb.js';
import { createPrismaTestDatabase, type PrismaTestDatabase } from '../support/prisma-db.js';

const MB = 1024 * 1024;

interface Env {
  inner: MemoryFlagAdapter;
  store: MemoryAuditStore;
  audited: AuditedAdapter;
  flags: Flags;
}

async function memoryEnv(): Promise<Env> {
  const inner = new MemoryFlagAdapter();
  const store = new MemoryAuditStore();
  const audited = withAuditTrail(inner, { store });
  await audited.enable('seeded', 'actors', 'a');
  await audited.enable('seeded', 'percentageOfActors', 10);
  return { inner, store, audited, flags: new Flags(audited) };
}

async function snapshot(env: Env) {
  return { flags: await env.inner.getAll(), entries: await env.store.query({ limit: 1000 }) };
}

async function refused(
  call: () => unknown,
  code: FlagTrailErrorCode | FlagTrailErrorCode[],
): Promise<unknown> {
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  expect(isFlagTrailError(error), `expected FlagTrailError ${code}, got ${String(error)}`).toBe(true);
  expect(Array.isArray(code) ? code : [code]).toContain((error as { code: string }).code);
  return error;
}

const circular = (): Record<string, unknown> => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};

const deep = (levels: number): Record<string, unknown> => {
  let o: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < levels; i++) o = { n: o };
  return o;
};

type Refusal = [name: string, call: (env: Env) => unknown, code: FlagTrailErrorCode];

// Every one of these is refused before anything is written.
const REFUSED: Refusal[] = [
  ['feature: a number', (e) => e.audited.enable(42 as unknown as string, 'boolean', true), 'INVALID_FEATURE'],
  ['feature: null', (e) => e.audited.add(null as unknown as string), 'INVALID_FEATURE'],
  ['feature: empty string', (e) => e.audited.add(''), 'INVALID_FEATURE'],
  ['feature: 256 characters', (e) => e.audited.add('f'.repeat(256)), 'INVALID_FEATURE'],
  ['feature: a NUL byte', (e) => e.audited.add('check\u0000out'), 'INVALID_FEATURE'],
  [
    'feature: a newline (log forging)',
    (e) => e.audited.add('checkout\nINFO admin logged in'),
    'INVALID_FEATURE',
  ],
  ['feature: DEL control character', (e) => e.audited.remove('seeded\u007f'), 'INVALID_FEATURE'],
  [
    'feature: an operator object { $ne: null }',
    (e) => e.audited.clear({ $ne: null } as unknown as string),
    'INVALID_FEATURE',
  ],
  ['getMulti: not a list', (e) => e.audited.getMulti('seeded' as unknown as string[]), 'INVALID_FEATURE'],
  ['gate: unknown name', (e) => e.audited.enable('seeded', 'admin' as GateKey, true), 'INVALID_GATE'],
  ['gate: "__proto__"', (e) => e.audited.enable('seeded', '__proto__' as GateKey, true), 'INVALID_GATE'],
  ['percentage: NaN', (e) => e.flags.enablePercentageOfActors('seeded', Number.NaN), 'INVALID_VALUE'],
  [
    'percentage: Infinity',
    (e) => e.flags.enablePercentageOfTime('seeded', Number.POSITIVE_INFINITY),
    'INVALID_VALUE',
  ],
  ['percentage: above 100', (e) => e.flags.enablePercentageOfActors('seeded', 100.001), 'INVALID_VALUE'],
  ['percentage: negative', (e) => e.flags.enablePercentageOfActors('seeded', -1), 'INVALID_VALUE'],
  [
    'percentage: more than 3 decimals',
    (e) => e.flags.enablePercentageOfActors('seeded', 1e-7),
    'INVALID_VALUE',
  ],
  [
    'percentage: numeric string',
    (e) => e.audited.enable('seeded', 'percentageOfActors', '50' as unknown as number),
    'INVALID_VALUE',
  ],
  ['boolean: enable with false', (e) => e.audited.enable('seeded', 'boolean', false), 'INVALID_VALUE'],
  [
    'boolean: the string "true"',
    (e) => e.audited.enable('seeded', 'boolean', 'true' as unknown as boolean),
    'INVALID_VALUE',
  ],
  [
    'actor id: an operator object',
    (e) => e.audited.enable('seeded', 'actors', { $gt: '' } as unknown as string),
    'INVALID_VALUE',
  ],
  ['actor id: 10 MB', (e) => e.flags.enableActor('seeded', 'x'.repeat(10 * MB)), 'INVALID_VALUE'],
  ['group: control characters', (e) => e.flags.enableGroup('seeded', 'adm\rins'), 'INVALID_VALUE'],
  [
    'expression: circular',
    (e) => e.flags.enableExpression('seeded', circular() as never),
    'INVALID_EXPRESSION',
  ],
  [
    'expression: nested 100 levels',
    (e) => e.flags.enableExpression('seeded', deep(100) as never),
    'INVALID_EXPRESSION',
  ],
  [
    'expression: a function inside',
    (e) => e.flags.enableExpression('seeded', { Equal: [() => 1, 1] } as never),
    'INVALID_EXPRESSION',
  ],
  [
    'expression: a BigInt inside',
    (e) => e.flags.enableExpression('seeded', { Equal: [1n, 1] } as never),
    'INVALID_EXPRESSION',
  ],
  [
    'expression: an array instead of an object',
    (e) => e.audited.enable('seeded', 'expression', [1, 2] as never),
    'INVALID_EXPRESSION',
  ],
  [
    'expression: a JSON "__proto__" operator',
    (e) => e.flags.enableExpression('seeded', JSON.parse('{"__proto__":[{"Property":["plan"]},"pro"]}')),
    'INVALID_EXPRESSION',
  ],
  ['actor: null', (e) => withActor(null as never, () => e.audited.add('x')), 'INVALID_ACTOR'],
  ['actor: empty id', (e) => withActor({ id: '' }, () => e.audited.add('x')), 'INVALID_ACTOR'],
  ['actor: numeric id', (e) => withActor({ id: 42 } as never, () => e.audited.add('x')), 'INVALID_ACTOR'],
  [
    'actor: id of 10 MB',
    (e) => withActor({ id: 'u'.repeat(10 * MB) }, () => e.audited.add('x')),
    'INVALID_ACTOR',
  ],
  [
    'context: circular',
    (e) => withActor({ id: 'u' }, () => e.audited.add('x'), circular() as never),
    'INVALID_CONTEXT',
  ],
  [
    'context: NaN',
    (e) => withActor({ id: 'u' }, () => e.audited.add('x'), { n: Number.NaN }),
    'INVALID_CONTEXT',
  ],
  [
    'context: an invalid Date',
    (e) => withActor({ id: 'u' }, () => e.audited.add('x'), { at: new Date('nope') } as never),
    'INVALID_CONTEXT',
  ],
  [
    'context: a Map',
    (e) => withActor({ id: 'u' }, () => e.audited.add('x'), { tags: new Map() } as never),
    'INVALID_CONTEXT',
  ],
  [
    'context: reason is a number',
    (e) => withActor({ id: 'u' }, () => e.audited.add('x'), { reason: 7 } as never),
    'INVALID_CONTEXT',
  ],
  [
    'history: feature { $ne: null }',
    (e) => e.audited.history({ feature: { $ne: null } } as never),
    'INVALID_QUERY',
  ],
  [
    'history: actorId { $regex: ".*" }',
    (e) => e.audited.history({ actorId: { $regex: '.*' } } as never),
    'INVALID_QUERY',
  ],
  ['history: unknown filter $where', (e) => e.audited.history({ $where: '1' } as never), 'INVALID_QUERY'],
  ['history: invalid since date', (e) => e.audited.history({ since: new Date('nope') }), 'INVALID_QUERY'],
  [
    'history: until as garbage text',
    (e) => e.audited.history({ until: 'tomorrow-ish' } as never),
    'INVALID_QUERY',
  ],
  ['history: limit Infinity', (e) => e.audited.history({ limit: Number.POSITIVE_INFINITY }), 'INVALID_QUERY'],
  ['history: limit 1e9', (e) => e.audited.history({ limit: 1e9 }), 'INVALID_QUERY'],
  ['history: SQL in the cursor', (e) => e.audited.history({ before: "' OR 1=1 --" }), 'INVALID_QUERY'],
  [
    'history: operation list of garbage',
    (e) => e.audited.history({ operation: ['drop'] } as never),
    'INVALID_QUERY',
  ],
  [
    'options: retry.spool is a number',
    (e) => withAuditTrail(new MemoryFlagAdapter(), { store: e.store, retry: { spool: 42 as never } }),
    'INVALID_OPTION',
  ],
  [
    'options: auditTimeoutMs NaN',
    (e) => withAuditTrail(new MemoryFlagAdapter(), { store: e.store, auditTimeoutMs: Number.NaN }),
    'INVALID_OPTION',
  ],
  ['store: record of an entry without id', (e) => e.store.record({} as AuditEntry), 'MALFORMED_ENTRY'],
];

describe('hostile input: refused with a typed error, nothing written (memory backend)', () => {
  for (const [name, call, code] of REFUSED) {
    it(name, async () => {
      const env = await memoryEnv();
      const before = await snapshot(env);
      await refused(() => call(env), code);
      expect(await snapshot(env)).toEqual(before);
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    });
  }
});

describe('hostile input: handled as documented (memory backend)', () => {
  it('-0 as a percentage is stored and recorded as 0', async () => {
    const env = await memoryEnv();
    await env.flags.enablePercentageOfActors('seeded', -0);
    const [entry] = await env.audited.history({ limit: 1 });
    expect(Object.is(entry!.after.gates.percentageOfActors, 0)).toBe(true);
    expect(Object.is((await env.inner.get('seeded')).percentageOfActors, 0)).toBe(true);
  });

  it('"__proto__" and "constructor" as feature keys are ordinary flags; no prototype is touched', async () => {
    const env = await memoryEnv();
    await env.flags.enableActor('__proto__', 'evil');
    await env.flags.enable('constructor');
    const all = await env.audited.getAll();
    expect(Object.hasOwn(all, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(all, '__proto__')?.value.actors).toEqual(['evil']);
    expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
    const multi = await env.audited.getMulti(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(multi, '__proto__')?.value.actors).toEqual(['evil']);
    expect(Object.hasOwn(all, 'constructor')).toBe(true);
    expect(({} as Record<string, unknown>).actors).toBeUndefined();
    expect((await env.audited.history({ feature: '__proto__' }))[0]!.value).toBe('evil');
  });

  it('"__proto__" and "constructor" keys in a context are kept as plain data', async () => {
    const env = await memoryEnv();
    const context = JSON.parse('{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}');
    await withActor({ id: 'u' }, () => env.audited.add('ctx'), context);
    const [entry] = await env.audited.history({ feature: 'ctx' });
    expect(Object.getOwnPropertyDescriptor(entry!.context, '__proto__')?.value).toEqual({ isAdmin: true });
    expect(Object.getPrototypeOf(entry!.context)).toBe(Object.prototype);
    expect(({} as { isAdmin?: boolean }).isAdmin).toBeUndefined();
  });

  it('unicode keys (emoji, right-to-left override, combining marks) round-trip exactly', async () => {
    const env = await memoryEnv();
    const keys = ['🚀-launch', 'pay\u202Egnp.exe', 'e\u0301clair', '日本語'];
    for (const key of keys) await withActor({ id: 'ü-👩‍💻' }, () => env.flags.enableActor(key, key));
    for (const key of keys) {
      expect((await env.audited.get(key)).actors).toEqual([key]);
      const [entry] = await env.audited.history({ feature: key });
      expect([entry!.feature, entry!.value, entry!.actor.id]).toEqual([key, key, 'ü-👩‍💻']);
    }
  });

  it('a 10 MB context value is recorded intact (no size limit in the core; stores apply theirs)', async () => {
    const env = await memoryEnv();
    const note = 'n'.repeat(10 * MB);
    await withActor({ id: 'u' }, () => env.audited.add('big-context'), { note });
    const [entry] = await env.audited.history({ feature: 'big-context' });
    expect((entry!.context.note as string).length).toBe(10 * MB);
  });

  it('a flag with a 100,000-member set: one more member is one small diff, in bounded time', async () => {
    const env = await memoryEnv();
    const members = Array.from({ length: 100_000 }, (_, i) => `user-${String(i).padStart(6, '0')}`);
    // Seeded straight into the adapter's map: adding 100,000 members one by one re-sorts each time.
    (env.inner as unknown as { flags: Map<string, GateValues> }).flags.set('huge', {
      boolean: false,
      actors: members,
      groups: [],
      percentageOfActors: 0,
      percentageOfTime: 0,
      expression: null,
    });
    const started = performance.now();
    await env.flags.enableActor('huge', 'newcomer');
    await env.flags.disableActor('huge', 'user-050000');
    expect(performance.now() - started).toBeLessThan(10_000);
    const [removed, added] = await env.audited.history({ feature: 'huge' });
    expect(added!.changes).toEqual([{ op: 'add', path: '/gates/actors/newcomer', value: true }]);
    expect(removed!.changes).toEqual([{ op: 'remove', path: '/gates/actors/user-050000' }]);
    expect(removed!.after.gates.actors).toHaveLength(100_000);
  });

  it('a store returning malformed entries: history refuses them (MALFORMED_ENTRY)', async () => {
    const store: AuditStore = {
      name: 'broken',
      record: async () => undefined,
      query: async () => [{ id: 1, feature: null }] as unknown as AuditEntry[],
    };
    await refused(() => withAuditTrail(new MemoryFlagAdapter(), { store }).history(), 'MALFORMED_ENTRY');
  });

  it('a store throwing a non-Error (a string, null): fail-open reports AUDIT_FAILED, the write stands', async () => {
    for (const thrown of ['boom', null]) {
      const errors: unknown[] = [];
      const inner = new MemoryFlagAdapter();
      const audited = withAuditTrail(inner, {
        store: { name: 'odd', record: () => Promise.reject(thrown), query: async () => [] },
        onError: (error) => errors.push(error),
      });
      await audited.add('f');
      expect(await inner.exists('f')).toBe(true);
      expect(errors).toEqual([expect.objectContaining({ code: 'AUDIT_FAILED' })]);
    }
  });

  it('a store whose record throws synchronously: fail-closed rejects and restores the flag', async () => {
    const inner = new MemoryFlagAdapter();
    const audited = withAuditTrail(inner, {
      failClosed: true,
      store: {
        name: 'sync-thrower',
        record: () => {
          throw new TypeError('not a promise');
        },
        query: async () => [],
      },
    });
    await refused(() => audited.enable('f', 'actors', '1'), 'AUDIT_FAILED');
    expect(await inner.features()).toEqual([]);
  });
});

describe('hostile input through the middleware (real Express server)', () => {
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  let base: string;
  const audited = withAuditTrail(new MemoryFlagAdapter());
  const errors: unknown[] = [];

  beforeAll(async () => {
    const app = express();
    app.use(
      auditActor({
        resolve: (req) => {
          const mode = req.headers['x-mode'];
          if (mode === 'object-id') return { id: {} } as never;
          if (mode === 'throws-string') throw 'nope';
          return { id: String(req.headers['x-user'] ?? 'anon') };
        },
        context: (req) => (req.headers['x-mode'] === 'circular-context' ? (circular() as never) : undefined),
      }),
    );
    app.post('/flags/:feature', async (req, res) => {
      await audited.enable(String(req.params.feature), 'boolean', true);
      res.json((await audited.history({ feature: String(req.params.feature), limit: 1 }))[0]);
    });
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(error);
      res.status(isFlagTrailError(error) ? 400 : 500).json({ code: (error as { code?: string }).code });
    });
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function post(feature: string, headers: Record<string, string>) {
    const res = await fetch(`${base}/flags/${encodeURIComponent(feature)}`, { method: 'POST', headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('resolve returns an object as actor id: INVALID_ACTOR on the error path, no flag written', async () => {
    expect(await post('m1', { 'x-mode': 'object-id' })).toEqual({
      status: 400,
      body: { code: 'INVALID_ACTOR' },
    });
    expect(await audited.exists('m1')).toBe(false);
  });

  it('resolve throws a string: INVALID_ACTOR, no flag written', async () => {
    expect(await post('m2', { 'x-mode': 'throws-string' })).toEqual({
      status: 400,
      body: { code: 'INVALID_ACTOR' },
    });
    expect(await audited.exists('m2')).toBe(false);
  });

  it('context returns a circular object: INVALID_CONTEXT, no flag written', async () => {
    expect(await post('m3', { 'x-mode': 'circular-context' })).toEqual({
      status: 400,
      body: { code: 'INVALID_CONTEXT' },
    });
    expect(await audited.exists('m3')).toBe(false);
  });

  it('a forged or oversized x-request-id is replaced by a fresh UUID', async () => {
    for (const id of ['a b', 'x'.repeat(5000), '<script>']) {
      const { status, body } = await post('m4', { 'x-user': 'u', 'x-request-id': id });
      expect(status).toBe(200);
      expect((body.context as { requestId: string }).requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('a feature key with a control character in the URL: INVALID_FEATURE from the adapter', async () => {
    expect(await post('bad\u0001key', { 'x-user': 'u' })).toEqual({
      status: 400,
      body: { code: 'INVALID_FEATURE' },
    });
    expect(errors.length).toBeGreaterThan(0);
  });
});

describe('hostile input at the Prisma backend (SQLite)', () => {
  let db: PrismaTestDatabase;
  beforeAll(async () => {
    db = await createPrismaTestDatabase('sqlite');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('an operator object as a store filter is refused (INVALID_QUERY)', async () => {
    await refused(
      () => new PrismaAuditStore(db.prisma).query({ feature: { contains: '' } } as unknown as HistoryQuery),
      'INVALID_QUERY',
    );
  });

  it('"__proto__" as a feature key is an ordinary flag in getAll', async () => {
    const audited = withAuditTrail(new PrismaFlagAdapter(db.prisma));
    await audited.enable('__proto__', 'actors', 'evil');
    const all = await audited.getAll();
    expect(Object.getOwnPropertyDescriptor(all, '__proto__')?.value.actors).toEqual(['evil']);
    expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
  });

  it('an operator object as a feature key is refused (INVALID_FEATURE)', async () => {
    await refused(
      () => new PrismaFlagAdapter(db.prisma).enable({ in: ['x'] } as unknown as string, 'boolean', true),
      'INVALID_FEATURE',
    );
  });

  it('a damaged audit row is reported (MALFORMED_ENTRY), never returned half-read', async () => {
    const entry = makeAuditEntry({ feature: 'damaged' });
    await new PrismaAuditStore(db.prisma).record(entry);
    await db.sql('UPDATE flagtrail_audit_entries SET "before" = ? WHERE id = ?', ['{not json', entry.id]);
    // The generated client itself fails on the bad JSON column, so the store reports STORE_ERROR.
    await refused(
      () => new PrismaAuditStore(db.prisma).query({ feature: 'damaged' }),
      ['MALFORMED_ENTRY', 'STORE_ERROR'],
    );
    await refused(
      () => withAuditTrail(new PrismaFlagAdapter(db.prisma)).history({ feature: 'damaged' }),
      ['MALFORMED_ENTRY', 'STORE_ERROR'],
    );
  });
});

describe('hostile input at the MongoDB backend', () => {
  const mongo = useMongoDatabase('hostile');

  it('an operator object as a history filter is refused (INVALID_QUERY)', async () => {
    await refused(
      () => new MongoAuditStore(mongo().db).query({ actorId: { $ne: null } } as unknown as HistoryQuery),
      'INVALID_QUERY',
    );
  });

  it('an operator object as a feature key is refused (INVALID_FEATURE)', async () => {
    await refused(
      () => new MongoFlagAdapter(mongo().db).get({ $gt: '' } as unknown as string),
      'INVALID_FEATURE',
    );
  });

  it('"__proto__" as a feature key is an ordinary flag in getAll', async () => {
    const audited = withAuditTrail(new MongoFlagAdapter(mongo().db));
    await audited.enable('__proto__', 'actors', 'evil');
    const all = await audited.getAll();
    expect(Object.getOwnPropertyDescriptor(all, '__proto__')?.value.actors).toEqual(['evil']);
    expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
  });

  it('the reserved key "flipper_features" is refused as a feature (INVALID_FEATURE)', async () => {
    await refused(
      () => withAuditTrail(new MongoFlagAdapter(mongo().db)).add('flipper_features'),
      'INVALID_FEATURE',
    );
  });

  it('a malformed audit document is reported (MALFORMED_ENTRY)', async () => {
    const entry = makeAuditEntry({ feature: 'mangled' });
    await mongo()
      .db.collection('flagtrail_audit_entries')
      .insertOne({ _id: entry.id, feature: 'mangled', createdAt: new Date(), before: 'garbage' } as never);
    await refused(() => new MongoAuditStore(mongo().db).query({ feature: 'mangled' }), 'MALFORMED_ENTRY');
  });

  it('an entry over the 16 MB document limit: fail-closed rejects it and the flag stays unchanged', async () => {
    const flags = new MongoFlagAdapter(mongo().db);
    const audited = withAuditTrail(flags, { failClosed: true });
    const error = await refused(
      () =>
        withActor({ id: 'u' }, () => audited.enable('too-big', 'actors', '1'), { blob: 'b'.repeat(17 * MB) }),
      'AUDIT_FAILED',
    );
    expect((error as Error).cause).toMatchObject({ code: 'STORE_ERROR' });
    expect(await flags.exists('too-big')).toBe(false);
  });
});
