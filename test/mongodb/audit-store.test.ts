import type { CommandStartedEvent, Document } from 'mongodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { FlagTrailError } from '../../src/core/errors.js';
import { defaultGates } from '../../src/core/gates.js';
import type { AuditEntry, HistoryQuery } from '../../src/core/types.js';
import { AUDIT_COLLECTION, auditIndexes, MongoAuditStore } from '../../src/mongodb/index.js';
import { makeAuditEntry } from '../../src/testing/index.js';
import { connectMongo, useMongoDatabase } from '../support/mongodb.js';

const mongo = useMongoDatabase('audit');

const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);

async function rejection(promise: Promise<unknown>): Promise<FlagTrailError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FlagTrailError);
    return error as FlagTrailError;
  }
  throw new Error('expected a rejection');
}

async function indexKeys(collection = AUDIT_COLLECTION): Promise<Document[]> {
  const indexes = await mongo().db.collection(collection).listIndexes().toArray();
  return indexes.map(({ name, key, expireAfterSeconds }) =>
    expireAfterSeconds === undefined ? { name, key } : { name, key, expireAfterSeconds },
  );
}

const EXPECTED_INDEXES = [
  { name: '_id_', key: { _id: 1 } },
  { name: 'actorId_1__id_-1', key: { actorId: 1, _id: -1 } },
  { name: 'createdAt_-1', key: { createdAt: -1 } },
  { name: 'feature_1__id_-1', key: { feature: 1, _id: -1 } },
];

function byName(a: Document, b: Document): number {
  return String(a.name).localeCompare(String(b.name));
}

// A fresh collection per test: index tests need a collection that has never been indexed.
let n = 0;
let collection = '';
beforeEach(() => {
  n += 1;
  collection = `audit_${n}`;
});

function store(options: ConstructorParameters<typeof MongoAuditStore>[1] = {}): MongoAuditStore {
  return new MongoAuditStore(mongo().db, { collection, ...options });
}

describe('MongoAuditStore layout', () => {
  it('stores one document per entry, keyed by the entry id, with fixed field names', async () => {
    const entry = makeAuditEntry({
      feature: 'a.b$c',
      gate: 'expression',
      value: { $where: ['a.b'] },
      before: { exists: true, gates: { ...defaultGates(), actors: ['$ne', 'x.y'] } },
      after: {
        exists: true,
        gates: { ...defaultGates(), actors: ['$ne', 'x.y'], expression: { $where: ['a.b'] } },
      },
      actor: { id: '$admin.root' },
      context: { reason: 'r', $set: { 'a.b': 1 }, 'dotted.key': true },
      createdAt: new Date(T0),
    });
    const s = store();
    await s.record(entry);
    const doc = await mongo().db.collection<Document>(collection).findOne({});
    expect(doc).toEqual({
      _id: entry.id,
      version: 1,
      feature: 'a.b$c',
      operation: 'enable',
      gate: 'expression',
      value: { json: '{"$where":["a.b"]}' },
      before: {
        exists: true,
        gates: {
          boolean: false,
          actors: ['$ne', 'x.y'],
          groups: [],
          percentageOfActors: 0,
          percentageOfTime: 0,
          expression: null,
        },
      },
      after: {
        exists: true,
        gates: {
          boolean: false,
          actors: ['$ne', 'x.y'],
          groups: [],
          percentageOfActors: 0,
          percentageOfTime: 0,
          expression: '{"$where":["a.b"]}',
        },
      },
      changes: [{ op: 'replace', path: '/gates/expression', value: { json: '{"$where":["a.b"]}' } }],
      actorId: '$admin.root',
      actorLabel: null,
      actorType: null,
      context: '{"reason":"r","$set":{"a.b":1},"dotted.key":true}',
      adapter: 'conformance',
      createdAt: new Date(T0),
    });
    expect(doc?.createdAt).toBeInstanceOf(Date);
    expect(await s.query({ feature: 'a.b$c' })).toEqual([entry]);
    expect(await s.query({ actorId: '$admin.root' })).toEqual([entry]);
  });

  it('record is idempotent on the id: a second entry with the same id leaves the first', async () => {
    const s = store();
    const entry = makeAuditEntry({ createdAt: new Date(T0) });
    await s.record(entry);
    await s.record({ ...entry, feature: 'other' });
    await Promise.all(Array.from({ length: 10 }, () => s.record(entry)));
    expect(await s.query({})).toEqual([entry]);
  });

  it('refuses an entry with fields of the wrong type before anything reaches the server', async () => {
    const s = store({ autoIndex: false });
    const good = makeAuditEntry({});
    const bad: unknown[] = [
      null,
      'entry',
      { ...good, id: { $gt: '' } },
      { ...good, id: 'not-a-uuid' },
      { ...good, version: 2 },
      { ...good, feature: { $ne: null } },
      { ...good, operation: 'explode' },
      { ...good, gate: 'nope' },
      { ...good, actor: { id: { $ne: null } } },
      { ...good, actor: null },
      { ...good, context: { reason: 42 } },
      { ...good, createdAt: '2026-01-01' },
      { ...good, createdAt: new Date(Number.NaN) },
      { ...good, before: { exists: 'yes', gates: defaultGates() } },
      { ...good, after: { exists: true, gates: { ...defaultGates(), actors: [1] } } },
      { ...good, changes: [{ op: 'rm', path: '/x' }] },
      { ...good, value: () => 1 },
      { ...good, adapter: 7 },
    ];
    for (const entry of bad) {
      expect((await rejection(s.record(entry as AuditEntry))).code).toBe('MALFORMED_ENTRY');
    }
    expect(await mongo().db.collection(collection).countDocuments()).toBe(0);
  });

  it('reports a malformed stored document as MALFORMED_ENTRY naming the entry and field', async () => {
    const s = store();
    const entry = makeAuditEntry({ createdAt: new Date(T0) });
    await s.record(entry);
    const col = mongo().db.collection<{ _id: string } & Document>(collection);
    await col.updateOne({ _id: entry.id }, { $set: { createdAt: '2026-03-01T09:00:00Z' } });
    let error = await rejection(s.query({}));
    expect(error.code).toBe('MALFORMED_ENTRY');
    expect(error.message).toContain(entry.id);
    expect(error.message).toContain('createdAt');
    await col.updateOne({ _id: entry.id }, { $set: { createdAt: new Date(T0), context: '[1]' } });
    error = await rejection(s.query({}));
    expect(error.code).toBe('MALFORMED_ENTRY');
    expect(error.message).toContain('context');
    await col.updateOne({ _id: entry.id }, { $set: { context: '{}' }, $unset: { actorId: '' } });
    expect((await rejection(s.query({}))).message).toContain('actorId');
  });
});

describe('MongoAuditStore indexes', () => {
  it('creates the three indexes lazily, before the first write, once per store', async () => {
    const client = await connectMongo({ monitorCommands: true });
    try {
      const commands: string[] = [];
      client.on('commandStarted', (e: CommandStartedEvent) => commands.push(e.commandName));
      const s = new MongoAuditStore(client.db(mongo().db.databaseName), { collection });
      expect(commands).toEqual([]);
      await Promise.all(
        Array.from({ length: 5 }, (_, i) => s.record(makeAuditEntry({ createdAt: new Date(T0 + i) }))),
      );
      await s.record(makeAuditEntry({ createdAt: new Date(T0 + 10) }));
      expect(commands.filter((c) => c === 'createIndexes')).toHaveLength(3);
      expect(commands.filter((c) => c === 'insert')).toHaveLength(6);
      expect(commands.indexOf('insert')).toBeGreaterThan(commands.lastIndexOf('createIndexes'));
    } finally {
      await client.close();
    }
    expect((await indexKeys(collection)).sort(byName)).toEqual(EXPECTED_INDEXES);
  });

  it('ensureIndexes is idempotent, across calls and across stores', async () => {
    await store().ensureIndexes();
    await store().ensureIndexes();
    const s = store();
    await Promise.all([s.ensureIndexes(), s.ensureIndexes()]);
    expect((await indexKeys(collection)).sort(byName)).toEqual(EXPECTED_INDEXES);
  });

  it('with autoIndex false, writes create no index; ensureIndexes still does', async () => {
    const s = store({ autoIndex: false });
    await s.record(makeAuditEntry({}));
    expect(await indexKeys(collection)).toEqual([{ name: '_id_', key: { _id: 1 } }]);
    await s.ensureIndexes();
    expect((await indexKeys(collection)).sort(byName)).toEqual(EXPECTED_INDEXES);
  });

  it('retention adds a TTL to the createdAt index; bad retention is INVALID_OPTION', async () => {
    expect(auditIndexes({ days: 30 }).find((i) => i.name === 'createdAt_-1')).toEqual({
      name: 'createdAt_-1',
      key: { createdAt: -1 },
      expireAfterSeconds: 30 * 86_400,
    });
    expect(auditIndexes().find((i) => i.name === 'createdAt_-1')).not.toHaveProperty('expireAfterSeconds');
    for (const retention of [
      { days: 0 },
      { days: -1 },
      { days: 1.5 },
      { days: '30' },
      { days: 24_856 },
      {},
      null,
      30,
    ]) {
      expect(() => store({ retention } as never)).toThrowError(/retention/);
      try {
        store({ retention } as never);
      } catch (error) {
        expect((error as FlagTrailError).code).toBe('INVALID_OPTION');
      }
    }
    expect(() => store({ ttl: 3 } as never)).toThrowError(/unknown MongoAuditStore option/);

    const s = store({ retention: { days: 30 } });
    if (mongo().isFerretDB) {
      // FerretDB 1.24 has no TTL indexes: the store says so through its typed error, and a write
      // (which needs its indexes first) fails the same way, so the failure policy applies.
      const error = await rejection(s.ensureIndexes());
      expect(error.code).toBe('STORE_ERROR');
      expect(error.message).toContain('expireAfterSeconds');
      expect((await rejection(s.record(makeAuditEntry({})))).code).toBe('STORE_ERROR');
    } else {
      await s.ensureIndexes();
      expect((await indexKeys(collection)).find((i) => i.name === 'createdAt_-1')).toEqual({
        name: 'createdAt_-1',
        key: { createdAt: -1 },
        expireAfterSeconds: 2_592_000,
      });
      // Changing the retention later updates the existing index in place.
      await store({ retention: { days: 7 } }).ensureIndexes();
      expect((await indexKeys(collection)).find((i) => i.name === 'createdAt_-1')?.expireAfterSeconds).toBe(
        604_800,
      );
    }
  });
});

describe('MongoAuditStore history on the server', () => {
  it('sends every filter, the cursor, the sort and the limit to the server', async () => {
    const client = await connectMongo({ monitorCommands: true });
    try {
      const s = new MongoAuditStore(client.db(mongo().db.databaseName), { collection });
      const entries = Array.from({ length: 6 }, (_, i) =>
        makeAuditEntry({ feature: i % 2 ? 'odd' : 'even', createdAt: new Date(T0 + i * 1000) }),
      );
      for (const e of entries) await s.record(e);
      const finds: Document[] = [];
      client.on('commandStarted', (e: CommandStartedEvent) => {
        if (e.commandName === 'find') finds.push(e.command);
      });
      const query: HistoryQuery = {
        feature: 'odd',
        actorId: 'tester',
        operation: ['enable', 'disable'],
        gate: 'boolean',
        since: new Date(T0),
        until: new Date(T0 + 6000),
        before: entries[5]!.id,
        limit: 2,
      };
      expect((await s.query(query)).map((e) => e.id)).toEqual([entries[3]!.id, entries[1]!.id]);
      expect(finds).toHaveLength(1);
      expect(finds[0]).toMatchObject({
        filter: {
          feature: 'odd',
          actorId: 'tester',
          operation: { $in: ['enable', 'disable'] },
          gate: 'boolean',
          createdAt: { $gte: new Date(T0), $lt: new Date(T0 + 6000) },
          _id: { $lt: entries[5]!.id },
        },
        limit: 2,
      });
      // The driver sends the sort as a Map to keep key order.
      expect(Object.fromEntries(finds[0]!.sort as Map<string, number>)).toEqual({ _id: -1 });
    } finally {
      await client.close();
    }
  });

  it('refuses operator objects in every filter without querying', async () => {
    const client = await connectMongo({ monitorCommands: true });
    try {
      const s = new MongoAuditStore(client.db(mongo().db.databaseName), { collection });
      const commands: string[] = [];
      client.on('commandStarted', (e: CommandStartedEvent) => commands.push(e.commandName));
      for (const query of [
        { feature: { $ne: null } },
        { actorId: { $regex: '.*' } },
        { operation: { $ne: 'add' } },
        { gate: { $exists: true } },
        { since: { $gt: 0 } },
        { before: { $gt: '' } },
        { limit: { $gt: 0 } },
      ]) {
        expect((await rejection(s.query(query as unknown as HistoryQuery))).code).toBe('INVALID_QUERY');
      }
      expect(commands).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
