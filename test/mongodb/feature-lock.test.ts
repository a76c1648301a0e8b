// MongoFlagAdapter.lockFeature: lease documents in flagtrail_locks, on the real test server.
import type { CommandStartedEvent, MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withActor } from '../../src/core/actor-context.js';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { FlagTrailError } from '../../src/core/errors.js';
import { statesEqual } from '../../src/core/gates.js';
import type { FlagAdapter } from '../../src/core/types.js';
import {
  type LeaseDocument,
  LOCKS_COLLECTION,
  MongoAuditStore,
  MongoFlagAdapter,
} from '../../src/mongodb/index.js';
import { connectMongo, emptyDatabase, useMongoDatabase } from '../support/mongodb.js';
import { insertInto, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const mongo = useMongoDatabase('locks');

// A second client with command monitoring, as another process would have its own connection.
let other: MongoClient;
const otherCommands: CommandStartedEvent[] = [];
beforeAll(async () => {
  other = await connectMongo({ monitorCommands: true });
  other.on('commandStarted', (event) => otherCommands.push(event));
});
afterAll(async () => {
  await other?.close();
});

beforeEach(async () => {
  await emptyDatabase(mongo().db);
  otherCommands.length = 0;
});

function leases() {
  return mongo().db.collection<LeaseDocument>(LOCKS_COLLECTION);
}

function otherAdapter(options?: ConstructorParameters<typeof MongoFlagAdapter>[1]): MongoFlagAdapter {
  return new MongoFlagAdapter(other.db(mongo().db.databaseName), options);
}

/** The commands `other` sent to the lock collection, by name. */
function lockCommands(): string[] {
  return otherCommands
    .filter((e) => (e.command as Record<string, unknown>)[e.commandName] === LOCKS_COLLECTION)
    .map((e) => e.commandName);
}

/** Resolves once `predicate` holds; checks after each command `other` sends, no timers. */
function whenOtherSent(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!predicate()) return;
      other.off('commandStarted', check);
      resolve();
    };
    other.on('commandStarted', check);
    check();
  });
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

function lockOf(adapter: MongoFlagAdapter) {
  const lock = adapter.lockFeature;
  if (!lock) throw new Error('the adapter has no lockFeature');
  return lock;
}

describe('MongoFlagAdapter.lockFeature', () => {
  it('costs one insert to acquire and one delete to release when nobody else holds the lock', async () => {
    const adapter = otherAdapter();
    const before = Date.now();
    let seen: LeaseDocument | null = null;
    let given: FlagAdapter | undefined;
    const result = await lockOf(adapter)('checkout', async (a) => {
      given = a;
      seen = await leases().findOne({ _id: 'checkout' });
      return 42;
    });
    expect(result).toBe(42);
    expect(given).toBe(adapter);
    expect(lockCommands()).toEqual(['insert', 'delete']);
    const lease = seen as LeaseDocument | null;
    expect(lease?._id).toBe('checkout');
    expect(typeof lease?.owner).toBe('string');
    const expires = lease?.expiresAt.getTime() ?? 0;
    expect(expires).toBeGreaterThanOrEqual(before + 30_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(await leases().countDocuments()).toBe(0);
  });

  it('excludes an adapter on another client until the holder releases', async () => {
    const first = new MongoFlagAdapter(mongo().db);
    const second = otherAdapter();
    const events: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => undefined;
    const firstIn = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const a = lockOf(first)('checkout', async () => {
      events.push('first in');
      entered();
      await held;
      events.push('first out');
    });
    await firstIn;
    const b = lockOf(second)('checkout', async () => {
      events.push('second in');
    });
    // The second adapter has been refused at least twice (and so waited in between) while the
    // first held the lease.
    await whenOtherSent(() => lockCommands().filter((c) => c === 'insert').length >= 2);
    expect(events).toEqual(['first in']);
    release();
    await Promise.all([a, b]);
    expect(events).toEqual(['first in', 'first out', 'second in']);
    expect(await leases().countDocuments()).toBe(0);
  });

  it('locks only the named feature', async () => {
    const first = new MongoFlagAdapter(mongo().db);
    const second = otherAdapter({ locks: { waitMs: 0 } });
    const order: string[] = [];
    await lockOf(first)('checkout', async () => {
      await lockOf(second)('search', async () => {
        order.push('search');
      });
      order.push('checkout');
    });
    expect(order).toEqual(['search', 'checkout']);
  });

  it('takes over the expired lease of a holder that died', async () => {
    await leases().insertOne({ _id: 'checkout', owner: 'crashed', expiresAt: new Date(Date.now() - 1_000) });
    let during: LeaseDocument | null = null;
    await lockOf(otherAdapter())('checkout', async () => {
      during = await leases().findOne({ _id: 'checkout' });
    });
    const lease = during as LeaseDocument | null;
    expect(lease?.owner).not.toBe('crashed');
    expect(lease?.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(lockCommands()).toEqual(['insert', 'find', 'findAndModify', 'delete']);
    expect(await leases().countDocuments()).toBe(0);
  });

  it('gives up after waitMs with ADAPTER_ERROR naming the feature, leaving a live lease alone', async () => {
    const expiresAt = new Date(Date.now() + 60_000);
    await leases().insertOne({ _id: 'a.b$c', owner: 'alive', expiresAt });
    let ran = false;
    const error = await rejection(
      lockOf(otherAdapter({ locks: { waitMs: 40 } }))('a.b$c', async () => {
        ran = true;
      }),
    );
    expect(error.code).toBe('ADAPTER_ERROR');
    expect(error.message).toContain('"a.b$c"');
    expect(error.message).toContain('40 ms');
    expect(ran).toBe(false);
    // One read of the holder's expiry, then inserts only while it is in the future.
    expect(lockCommands().filter((c) => c === 'find')).toEqual(['find']);
    expect(lockCommands().filter((c) => c === 'findAndModify')).toEqual([]);
    expect(await leases().findOne({ _id: 'a.b$c' })).toEqual({ _id: 'a.b$c', owner: 'alive', expiresAt });
  });

  it('renews the lease while the holder works past leaseMs, so it is not taken over', async () => {
    const holder = new MongoFlagAdapter(mongo().db, { locks: { leaseMs: 600 } });
    const waiter = otherAdapter({ locks: { leaseMs: 600, waitMs: 0 } });
    await lockOf(holder)('slow', async () => {
      const first = await leases().findOne({ _id: 'slow' });
      const firstExpiry = first?.expiresAt.getTime() ?? 0;
      // Work until the first lease would have run out (polling the lease, not sleeping blind).
      let lease = first;
      while (Date.now() <= firstExpiry + 100) lease = await leases().findOne({ _id: 'slow' });
      expect(lease?.owner).toBe(first?.owner);
      expect(lease?.expiresAt.getTime()).toBeGreaterThan(Date.now());
      const error = await rejection(lockOf(waiter)('slow', async () => undefined));
      expect(error.code).toBe('ADAPTER_ERROR');
    });
    expect(await leases().countDocuments()).toBe(0);
  });

  it('releases the lock and passes the error on when fn throws', async () => {
    const boom = new Error('boom');
    await expect(
      lockOf(otherAdapter())('checkout', async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await leases().countDocuments()).toBe(0);
  });

  it('keeps keys with $ and . as _id values', async () => {
    const adapter = otherAdapter();
    for (const key of ['$where', 'a.b', '$set.x.$', '.']) {
      const seen = await lockOf(adapter)(key, () => leases().findOne({ _id: key }));
      expect(seen?._id).toBe(key);
    }
    expect(await leases().countDocuments()).toBe(0);
  });

  it('refuses a bad feature key before touching the lock collection', async () => {
    const adapter = otherAdapter();
    const error = await rejection(lockOf(adapter)({ $ne: null } as unknown as string, async () => undefined));
    expect(error.code).toBe('INVALID_FEATURE');
    expect(lockCommands()).toEqual([]);
  });

  it('uses the collection named by locks.collection', async () => {
    const adapter = otherAdapter({ locks: { collection: 'my_locks' } });
    const seen = await lockOf(adapter)('checkout', () =>
      mongo().db.collection<LeaseDocument>('my_locks').findOne({ _id: 'checkout' }),
    );
    expect(seen?._id).toBe('checkout');
    expect(await leases().countDocuments()).toBe(0);
  });

  it('has no lockFeature at all with locks: false', async () => {
    const adapter = otherAdapter({ locks: false });
    expect(adapter.lockFeature).toBeUndefined();
    expect('lockFeature' in adapter).toBe(false);
    const audited = withAuditTrail(adapter);
    await audited.enable('checkout', 'boolean', true);
    expect((await audited.history({ feature: 'checkout' })).length).toBe(1);
    expect(lockCommands()).toEqual([]);
  });

  it.each([
    ['null', null],
    ['true', true],
    ['a string', 'yes'],
    ['an array', []],
    ['an unknown key', { lease: 100 }],
    ['leaseMs 0', { leaseMs: 0 }],
    ['leaseMs below 100', { leaseMs: 99 }],
    ['fractional leaseMs', { leaseMs: 150.5 }],
    ['NaN leaseMs', { leaseMs: Number.NaN }],
    ['leaseMs as text', { leaseMs: '1000' }],
    ['Infinity waitMs', { waitMs: Number.POSITIVE_INFINITY }],
    ['negative waitMs', { waitMs: -1 }],
    ['waitMs past the timer limit', { waitMs: 2 ** 31 }],
    ['an empty collection name', { collection: '' }],
    ['a collection name with $', { collection: 'locks$' }],
    ['a system collection', { collection: 'system.locks' }],
  ])('refuses locks: %s with INVALID_OPTION', (_label, locks) => {
    expect(() => new MongoFlagAdapter(mongo().db, { locks } as never)).toThrowError(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});

describe('lockFeature errors on a lost connection', () => {
  let proxy: TcpProxy | undefined;
  let client: MongoClient | undefined;
  afterEach(async () => {
    await client?.close();
    await proxy?.close();
    client = undefined;
    proxy = undefined;
  });

  it('translates the driver error into ADAPTER_ERROR with the driver error as cause', async () => {
    proxy = await startTcpProxy(mongo().url, insertInto(LOCKS_COLLECTION));
    client = await connectMongo({ serverSelectionTimeoutMS: 500, retryWrites: false }, proxy.url);
    const adapter = new MongoFlagAdapter(client.db(mongo().db.databaseName));
    const error = await rejection(lockOf(adapter)('checkout', async () => undefined));
    expect(proxy.cuts).toBe(1);
    expect(error.code).toBe('ADAPTER_ERROR');
    expect(error.message).toContain('lockFeature("checkout")');
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.cause).not.toBeInstanceOf(FlagTrailError);
  });
});

describe('audited writes from two clients (as two processes would)', () => {
  it('chain: each entry of a flag starts from the state the previous one left', async () => {
    const FEATURES = ['flag-a', 'flag.$b'];
    const trails = [new MongoFlagAdapter(mongo().db), otherAdapter()].map((adapter) =>
      withAuditTrail(adapter, { failClosed: true }),
    );
    await Promise.all(
      trails.map((trail, t) =>
        Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            withActor({ id: `t${t}` }, () => trail.enable(FEATURES[i % 2]!, 'actors', `t${t}-${i}`)),
          ),
        ),
      ),
    );
    const store = new MongoAuditStore(mongo().db);
    for (const feature of FEATURES) {
      const chain = (await store.query({ feature, limit: 1000 })).sort(
        (x, y) => x.before.gates.actors.length - y.before.gates.actors.length,
      );
      expect(chain).toHaveLength(20);
      chain.forEach((entry, k) => {
        expect(entry.before.gates.actors).toHaveLength(k);
        expect(entry.after.gates.actors).toHaveLength(k + 1);
        if (k > 0) expect(statesEqual(chain[k - 1]!.after, entry.before)).toBe(true);
      });
    }
    expect(await leases().countDocuments()).toBe(0);
  });
});
