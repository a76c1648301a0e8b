import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withActor } from '../../src/core/actor-context.js';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { FlagTrailError } from '../../src/core/errors.js';
import type { AuditEntry } from '../../src/core/types.js';
import { MongoAuditStore, MongoFlagAdapter } from '../../src/mongodb/index.js';
import { connectMongo, emptyDatabase, useMongoDatabase } from '../support/mongodb.js';
import { insertInto, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const mongo = useMongoDatabase('trail');

beforeEach(async () => {
  await emptyDatabase(mongo().db);
});

describe('withAuditTrail over MongoFlagAdapter', () => {
  it('infers a MongoAuditStore on the same database and records attributed entries', async () => {
    const audited = withAuditTrail(new MongoFlagAdapter(mongo().db));
    expect(audited.store).toBeInstanceOf(MongoAuditStore);
    expect((audited.store as MongoAuditStore).collection.namespace).toBe(
      `${mongo().db.databaseName}.flagtrail_audit_entries`,
    );
    await withActor({ id: 'u1', label: 'Ada' }, () => audited.enable('checkout', 'percentageOfActors', 25), {
      reason: 'ramp up',
    });
    await audited.enable('checkout', 'percentageOfActors', 25); // no-op: no entry
    await withActor({ id: 'u2' }, () => audited.enable('checkout', 'actors', 'a.b$c'));
    const history = await audited.history({ feature: 'checkout' });
    expect(history.map((e) => [e.actor.id, e.gate, e.value])).toEqual([
      ['u2', 'actors', 'a.b$c'],
      ['u1', 'percentageOfActors', 25],
    ]);
    expect(history[1]?.context).toEqual({ reason: 'ramp up' });
    expect(history[0]?.changes).toEqual([{ op: 'add', path: '/gates/actors/a.b$c', value: true }]);
    expect(history[0]?.createdAt).toBeInstanceOf(Date);
    const raw = await mongo().db.collection('flagtrail_audit_entries').countDocuments({ actorId: 'u1' });
    expect(raw).toBe(1);
  });

  it('200 concurrent writers under withActor are each attributed exactly once', async () => {
    const adapter = new MongoFlagAdapter(mongo().db, { auditStore: { collection: 'trail_200' } });
    const audited = withAuditTrail(adapter);
    const features = Array.from({ length: 10 }, (_, i) => `feature-${i}`);
    // Registered up front: FerretDB 1.24 loses concurrent updates of one document (here the
    // flipper_features list); MongoDB would not, and the point of this test is attribution.
    for (const f of features) await adapter.add(f);
    const actors = Array.from({ length: 200 }, (_, i) => `user-${String(i).padStart(3, '0')}`);
    await Promise.all(
      actors.map((id, i) =>
        withActor({ id, type: 'user' }, () => audited.enable(features[i % 10]!, 'actors', id), {
          requestId: `req-${id}`,
        }),
      ),
    );
    const entries = await audited.history({ limit: 1000 });
    expect(entries).toHaveLength(200);
    const seen = new Map<string, AuditEntry>();
    for (const entry of entries) {
      expect(seen.has(entry.actor.id), `${entry.actor.id} attributed twice`).toBe(false);
      seen.set(entry.actor.id, entry);
      expect(entry.value).toBe(entry.actor.id);
      expect(entry.context).toEqual({ requestId: `req-${entry.actor.id}` });
      expect(entry.after.gates.actors).toContain(entry.actor.id);
      expect(entry.before.gates.actors).not.toContain(entry.actor.id);
    }
    expect([...seen.keys()].sort()).toEqual(actors);
    for (const [i, id] of actors.entries()) expect(seen.get(id)?.feature).toBe(features[i % 10]);
    // Entries of one feature chain: each starts from the state the previous one left.
    for (const f of features) {
      const chain = entries.filter((e) => e.feature === f).reverse();
      expect(chain).toHaveLength(20);
      for (let i = 1; i < chain.length; i++) expect(chain[i]!.before).toEqual(chain[i - 1]!.after);
      expect((await adapter.get(f)).actors).toHaveLength(20);
    }
  });
});

describe('a lost connection during record follows the failure policy', () => {
  let proxy: TcpProxy | undefined;
  let closeStoreClient: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await closeStoreClient?.();
    await proxy?.close();
    proxy = undefined;
    closeStoreClient = undefined;
  });

  // The store talks to the server through a proxy that drops every connection the moment an
  // insert into the audit collection goes through it; the adapter keeps its own healthy client.
  async function storeBehindProxy(): Promise<MongoAuditStore> {
    proxy = await startTcpProxy(mongo().url, insertInto('flagtrail_audit_entries'));
    const client = await connectMongo({ serverSelectionTimeoutMS: 500 }, proxy.url);
    closeStoreClient = () => client.close();
    const store = new MongoAuditStore(client.db(mongo().db.databaseName));
    await store.ensureIndexes();
    return store;
  }

  it('fail-open (default): the write stands and onError gets the translated error', async () => {
    const store = await storeBehindProxy();
    const errors: Array<{ error: FlagTrailError; entry: AuditEntry }> = [];
    const adapter = new MongoFlagAdapter(mongo().db);
    const audited = withAuditTrail(adapter, {
      store,
      onError: (error, entry) => errors.push({ error, entry }),
    });

    await withActor({ id: 'ada' }, () => audited.enable('checkout', 'actors', '42'));

    expect(proxy?.cuts).toBe(1);
    expect((await adapter.get('checkout')).actors).toEqual(['42']);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error.code).toBe('AUDIT_FAILED');
    const cause = errors[0]?.error.cause as FlagTrailError;
    expect(cause).toBeInstanceOf(FlagTrailError);
    expect(cause.code).toBe('STORE_ERROR');
    expect(cause.message).toContain('MongoAuditStore.record');
    expect(errors[0]?.entry.actor.id).toBe('ada');
    expect(await mongo().db.collection('flagtrail_audit_entries').countDocuments()).toBe(0);
  });

  it('failClosed: the write is rejected and the flag put back as it was', async () => {
    const store = await storeBehindProxy();
    const adapter = new MongoFlagAdapter(mongo().db);
    await adapter.enable('checkout', 'groups', 'staff');
    const audited = withAuditTrail(adapter, { store, failClosed: true, onError: () => {} });

    let error: unknown;
    try {
      await withActor({ id: 'ada' }, () => audited.enable('checkout', 'boolean', true));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FlagTrailError);
    expect((error as FlagTrailError).code).toBe('AUDIT_FAILED');
    expect(proxy?.cuts).toBe(1);
    expect(await adapter.get('checkout')).toMatchObject({ boolean: false, groups: ['staff'] });
    expect(await mongo().db.collection('flagtrail_audit_entries').countDocuments()).toBe(0);
  });
});
