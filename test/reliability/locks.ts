// Cross-process feature locks for the FlagAdapter `lockFeature` hook. PrismaFlagAdapter has its
// own (pg_advisory_xact_lock / GET_LOCK); for MongoDB this lease lock, built on the public driver,
// stands in until MongoFlagAdapter offers one (see docs/reliability.md).
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { FlagAdapter } from '../../src/core/types.js';

export type LockFeature = <T>(feature: string, fn: (adapter: FlagAdapter) => Promise<T>) => Promise<T>;

/** `adapter` without its `lockFeature` hook: to show what goes wrong across processes without it. */
export function withoutFeatureLock(adapter: FlagAdapter): FlagAdapter {
  return new Proxy(adapter, {
    get(target, property) {
      if (property === 'lockFeature') return undefined;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** `adapter` with a `lockFeature` hook that runs `fn` on `adapter` while `acquire` holds the lock. */
export function withFeatureLock(
  adapter: FlagAdapter,
  acquire: (feature: string) => Promise<() => Promise<void>>,
): FlagAdapter {
  const lockFeature: LockFeature = async (feature, fn) => {
    const release = await acquire(feature);
    try {
      return await fn(adapter);
    } finally {
      await release();
    }
  };
  // A Proxy rather than Object.create: adapters with #private fields need their own `this`.
  return new Proxy(adapter, {
    get(target, property) {
      if (property === 'lockFeature') return lockFeature;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

interface LeaseDocument {
  _id: string;
  owner: string;
  expiresAt: Date;
}

/**
 * MongoDB lease locks: a document per held feature in `flagtrail_locks`, created with insertOne
 * (the unique `_id` is the mutual exclusion), deleted on release, taken over once its lease has
 * expired (a crashed holder). Only single-document atomic operations, so it also works on FerretDB.
 */
export function mongoLeaseLocks(db: Db, leaseMs = 30_000) {
  const locks: Collection<LeaseDocument> = db.collection<LeaseDocument>('flagtrail_locks');
  return {
    async acquire(feature: string): Promise<() => Promise<void>> {
      const owner = randomUUID();
      for (let attempt = 0; ; attempt++) {
        const now = new Date();
        try {
          await locks.insertOne({ _id: feature, owner, expiresAt: new Date(now.getTime() + leaseMs) });
          break;
        } catch (error) {
          if ((error as { code?: unknown }).code !== 11000) throw error;
        }
        const taken = await locks.findOneAndUpdate(
          { _id: feature, expiresAt: { $lt: now } },
          { $set: { owner, expiresAt: new Date(now.getTime() + leaseMs) } },
        );
        if (taken !== null) break;
        // Held by someone else: wait a little, with jitter so waiters do not collide again.
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 + attempt * 2) * Math.random()));
      }
      return async () => {
        await locks.deleteOne({ _id: feature, owner });
      };
    },
  };
}
