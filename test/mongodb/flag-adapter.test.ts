import type { CommandStartedEvent, Document, MongoClient } from 'mongodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { FlagTrailError } from '../../src/core/errors.js';
import { defaultGates } from '../../src/core/gates.js';
import type { GateKey } from '../../src/core/types.js';
import { MongoAuditStore, MongoFlagAdapter } from '../../src/mongodb/index.js';
import { connectMongo, emptyDatabase, useMongoDatabase } from '../support/mongodb.js';

const mongo = useMongoDatabase('adapter');

function adapter(): MongoFlagAdapter {
  return new MongoFlagAdapter(mongo().db);
}

function raw(id: string): Promise<Document | null> {
  return mongo()
    .db.collection<Document>('flipper')
    .findOne({ _id: id as unknown as Document['_id'] });
}

async function rejection(promise: Promise<unknown>): Promise<FlagTrailError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FlagTrailError);
    return error as FlagTrailError;
  }
  throw new Error('expected a rejection');
}

// Field names flagtrail may write into the flipper collection; user data is never a field name.
const FLIPPER_FIELDS = new Set([
  '_id',
  'features',
  'boolean',
  'actors',
  'groups',
  'percentage_of_actors',
  'percentage_of_time',
  'expression',
]);

function fieldNames(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) for (const item of value) fieldNames(item, into);
  else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      into.add(key);
      fieldNames(item, into);
    }
  }
  return into;
}

beforeEach(async () => {
  await emptyDatabase(mongo().db);
});

describe('MongoFlagAdapter layout (Ruby Flipper Mongo adapter)', () => {
  it('lists features in the flipper_features document and keeps one document per feature', async () => {
    const a = adapter();
    await a.add('search');
    await a.enable('checkout', 'actors', '42');
    await a.enable('checkout', 'actors', '7');
    await a.enable('checkout', 'groups', 'admins');
    await a.enable('checkout', 'percentageOfActors', 30);
    await a.enable('checkout', 'percentageOfTime', 12.5);
    await a.enable('checkout', 'expression', { Equal: [{ Property: ['plan'] }, 'pro'] });

    expect(await raw('flipper_features')).toEqual({
      _id: 'flipper_features',
      features: ['search', 'checkout'],
    });
    expect(await raw('search')).toBeNull();
    const doc = await raw('checkout');
    expect(doc).toEqual({
      _id: 'checkout',
      actors: ['42', '7'],
      groups: ['admins'],
      percentage_of_actors: '30',
      percentage_of_time: '12.5',
      expression: '{"Equal":[{"Property":["plan"]},"pro"]}',
    });
  });

  it('boolean enable replaces the document; disable, clear and remove delete it', async () => {
    const a = adapter();
    await a.enable('f', 'actors', '1');
    await a.enable('f', 'boolean', true);
    expect(await raw('f')).toEqual({ _id: 'f', boolean: 'true' });
    await a.disable('f', 'boolean', false);
    expect(await raw('f')).toBeNull();
    await a.enable('f', 'groups', 'staff');
    await a.clear('f');
    expect(await raw('f')).toBeNull();
    expect((await raw('flipper_features'))?.features).toEqual(['f']);
    await a.enable('f', 'groups', 'staff');
    await a.remove('f');
    expect(await raw('f')).toBeNull();
    expect((await raw('flipper_features'))?.features).toEqual([]);
  });

  it('disabling writes what Flipper writes: "0" for percentages, null for the expression, members pulled', async () => {
    const a = adapter();
    await a.enable('f', 'percentageOfTime', 5);
    await a.enable('f', 'expression', { Boolean: true });
    await a.enable('f', 'actors', '1');
    await a.disable('f', 'percentageOfTime', 5);
    await a.disable('f', 'expression', { Boolean: true });
    await a.disable('f', 'actors', '1');
    expect(await raw('f')).toEqual({ _id: 'f', actors: [], percentage_of_time: '0', expression: null });
    expect(await a.get('f')).toEqual(defaultGates());
  });

  it('reads documents written by Ruby Flipper', async () => {
    const col = mongo().db.collection<Document>('flipper');
    await col.insertMany([
      { _id: 'flipper_features', features: ['rails_flag', 'rails_bool'] } as Document,
      {
        _id: 'rails_flag',
        actors: ['User;2', 'User;1'],
        groups: ['admins'],
        percentage_of_actors: '25',
        percentage_of_time: '0',
        expression: '{"GreaterThan":[{"Property":["age"]},18]}',
      } as Document,
      { _id: 'rails_bool', boolean: 'true' } as Document,
    ]);
    const a = adapter();
    expect(await a.getAll()).toEqual({
      rails_flag: {
        ...defaultGates(),
        actors: ['User;1', 'User;2'],
        groups: ['admins'],
        percentageOfActors: 25,
        expression: { GreaterThan: [{ Property: ['age'] }, 18] },
      },
      rails_bool: { ...defaultGates(), boolean: true },
    });
    expect(await a.exists('rails_flag')).toBe(true);
  });

  it('reports an unreadable document as ADAPTER_ERROR naming the feature and field', async () => {
    await mongo()
      .db.collection<Document>('flipper')
      .insertOne({ _id: 'broken', percentage_of_actors: 'lots' } as Document);
    const error = await rejection(adapter().get('broken'));
    expect(error.code).toBe('ADAPTER_ERROR');
    expect(error.message).toContain('"broken"');
    expect(error.message).toContain('percentage_of_actors');
  });
});

describe('MongoFlagAdapter injection safety', () => {
  it('refuses operator objects where a key or member belongs, before any query', async () => {
    const a = adapter();
    await a.enable('f', 'actors', '1');
    const before = await mongo().db.collection('flipper').find().toArray();
    const operator = { $ne: null } as unknown as string;
    const cases: Array<[Promise<unknown>, string]> = [
      [a.get(operator), 'INVALID_FEATURE'],
      [a.exists(operator), 'INVALID_FEATURE'],
      [a.getMulti([operator]), 'INVALID_FEATURE'],
      [a.getMulti(operator as unknown as string[]), 'INVALID_FEATURE'],
      [a.add(operator), 'INVALID_FEATURE'],
      [a.remove(operator), 'INVALID_FEATURE'],
      [a.clear({ $gt: '' } as unknown as string), 'INVALID_FEATURE'],
      [a.enable('f', 'actors', operator), 'INVALID_VALUE'],
      [a.disable('f', 'groups', { $in: ['admins'] } as unknown as string), 'INVALID_VALUE'],
      [a.enable('f', { $ne: 'boolean' } as unknown as GateKey, true), 'INVALID_GATE'],
      [a.enable('f', 'percentageOfTime', { $inc: 1 } as unknown as number), 'INVALID_VALUE'],
    ];
    for (const [promise, code] of cases) expect((await rejection(promise)).code).toBe(code);
    expect(await mongo().db.collection('flipper').find().toArray()).toEqual(before);
  });

  it('never sends a query for a refused input (command monitoring)', async () => {
    const client: MongoClient = await connectMongo({ monitorCommands: true });
    try {
      const commands: string[] = [];
      client.on('commandStarted', (e: CommandStartedEvent) => commands.push(e.commandName));
      const a = new MongoFlagAdapter(client.db(mongo().db.databaseName));
      await rejection(a.get({ $ne: null } as unknown as string));
      await rejection(a.enable('x', 'actors', { $where: '1' } as unknown as string));
      expect(commands).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('keeps keys and members with $ and . as values only, and reads them back intact', async () => {
    const a = adapter();
    const features = ['a.b', '$where', 'x.$y', '$', '.'];
    const members = ['$ne', 'a.b', '$gt.$lt', '.hidden', '__proto__'];
    for (const f of features) {
      for (const m of members) await a.enable(f, 'actors', m);
      await a.enable(f, 'groups', '$admins.all');
      await a.enable(f, 'expression', { Equal: [{ Property: ['$plan.tier'] }, 'a.b'] });
    }
    const all = await a.getAll();
    expect(Object.keys(all).sort()).toEqual([...features].sort());
    for (const f of features) {
      expect(await a.get(f)).toEqual({
        ...defaultGates(),
        actors: [...members].sort(),
        groups: ['$admins.all'],
        expression: { Equal: [{ Property: ['$plan.tier'] }, 'a.b'] },
      });
      expect(await a.exists(f)).toBe(true);
    }
    const docs = await mongo().db.collection('flipper').find().toArray();
    for (const name of fieldNames(docs)) expect(FLIPPER_FIELDS.has(name), `field name ${name}`).toBe(true);
    expect(await a.getMulti(['a.b', '$where'])).toEqual({ 'a.b': all['a.b'], $where: all.$where });
  });

  it('refuses the reserved key flipper_features, which would overwrite the feature list', async () => {
    const error = await rejection(adapter().enable('flipper_features', 'boolean', true));
    expect(error.code).toBe('INVALID_FEATURE');
    expect(error.message).toContain('reserved');
  });
});

describe('MongoFlagAdapter round trips and races', () => {
  it('get and exists cost one command each', async () => {
    const client = await connectMongo({ monitorCommands: true });
    try {
      const a = new MongoFlagAdapter(client.db(mongo().db.databaseName));
      await a.enable('f', 'actors', '1');
      const commands: string[] = [];
      client.on('commandStarted', (e: CommandStartedEvent) => commands.push(e.commandName));
      expect((await a.get('f')).actors).toEqual(['1']);
      expect(commands).toEqual(['find']);
      commands.length = 0;
      expect(await a.exists('f')).toBe(true);
      expect(commands).toEqual(['find']);
      commands.length = 0;
      await a.getMulti(['f', 'g', 'f']);
      expect(commands).toEqual(['find']);
    } finally {
      await client.close();
    }
  });

  it('concurrent upserts creating one document all succeed (duplicate keys are retried)', async () => {
    const a = adapter();
    await a.add('race');
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, () => a.enable('race', 'boolean', true)),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await a.get('race')).toEqual({ ...defaultGates(), boolean: true });
  });
});

describe('MongoFlagAdapter construction', () => {
  it('takes a collection as well as a Db, and finds the audit database through it', async () => {
    const a = new MongoFlagAdapter(mongo().db.collection('flags_elsewhere'));
    await a.enable('f', 'groups', 'admins');
    expect(await mongo().db.collection('flags_elsewhere').countDocuments()).toBe(2);
    const store = a.defaultAuditStore();
    expect(store).toBeInstanceOf(MongoAuditStore);
    expect((store as MongoAuditStore).collection.namespace).toBe(
      `${mongo().db.databaseName}.flagtrail_audit_entries`,
    );
    expect(a.defaultAuditStore()).toBe(store);
  });

  it('uses a named collection and passes audit options on', async () => {
    const a = new MongoFlagAdapter(mongo().db, {
      collection: 'my_flags',
      auditStore: { collection: 'my_trail' },
    });
    expect(a.collection.collectionName).toBe('my_flags');
    expect((a.defaultAuditStore() as MongoAuditStore).collection.collectionName).toBe('my_trail');
  });

  it('refuses what is not a Db or Collection, and bad options, with INVALID_OPTION', () => {
    const bad: Array<() => unknown> = [
      () => new MongoFlagAdapter({} as never),
      () => new MongoFlagAdapter('mongodb://localhost' as never),
      () => new MongoFlagAdapter(mongo().db, { collection: 'a$b' }),
      () => new MongoFlagAdapter(mongo().db, { collection: '' }),
      () => new MongoFlagAdapter(mongo().db, { collection: 'system.users' }),
      () => new MongoFlagAdapter(mongo().db.collection('x'), { collection: 'y' }),
      () => new MongoFlagAdapter(mongo().db, { auditStore: { retention: { days: 0 } } }),
      () => new MongoFlagAdapter(mongo().db, null as never),
    ];
    for (const make of bad) {
      expect(make).toThrowError(FlagTrailError);
      try {
        make();
      } catch (error) {
        expect((error as FlagTrailError).code).toBe('INVALID_OPTION');
      }
    }
  });
});
