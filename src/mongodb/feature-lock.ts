import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { describeInput, FlagTrailError } from '../core/errors.js';
import { isDuplicateKey, translateError } from './errors.js';
import { validateCollectionName } from './target.js';

/** Collection of the lease documents unless `locks.collection` names another. */
export const LOCKS_COLLECTION = 'flagtrail_locks';

/** Options of the cross-process feature lock of `MongoFlagAdapter` (`options.locks`). */
export interface MongoLockOptions {
  /** Collection holding one lease document per locked feature. Default `flagtrail_locks`. */
  collection?: string;
  /**
   * How long a lease lasts unless its holder renews it, in ms (default 30000, at least 100). The
   * holder renews it every third of that while it holds the lock, so this bounds only how long
   * the feature stays locked after a holder died. Leases compare the clocks of the hosts involved:
   * keep it well above their clock skew.
   */
  leaseMs?: number;
  /** How long `lockFeature` waits for a lock another writer holds before it fails, in ms. Default 10000. */
  waitMs?: number;
}

/** One held feature: `_id` is the feature key (a value, never a field name). */
export interface LeaseDocument {
  _id: string;
  owner: string;
  expiresAt: Date;
}

const MAX_TIMER_MS = 2_147_483_647;

function checkDuration(value: unknown, name: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_TIMER_MS) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `MongoFlagAdapter option "locks.${name}" must be a whole number of milliseconds from ${min} to ${MAX_TIMER_MS}, got ${describeInput(value)}`,
    );
  }
  return value;
}

/** Validated lock settings; `false` when the caller switched the hook off. */
export function checkLockOptions(
  options: unknown,
): { collection: string; leaseMs: number; waitMs: number } | false {
  if (options === false) return false;
  const o = options === undefined ? {} : options;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `MongoFlagAdapter option "locks" must be an object or false, got ${describeInput(options)}`,
    );
  }
  const { collection, leaseMs, waitMs, ...rest } = o as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `MongoFlagAdapter option "locks" has unknown keys ${unknown.map((k) => JSON.stringify(k)).join(', ')}; it takes collection, leaseMs and waitMs`,
    );
  }
  return {
    collection: validateCollectionName(
      collection ?? LOCKS_COLLECTION,
      'MongoFlagAdapter option "locks.collection"',
    ),
    leaseMs: checkDuration(leaseMs, 'leaseMs', 100, 30_000),
    waitMs: checkDuration(waitMs, 'waitMs', 0, 10_000),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Lease locks in one collection, with single-document operations only (FerretDB has no
 * transactions): the unique `_id` of `insertOne` is the mutual exclusion, `deleteOne({ _id, owner })`
 * the release, and a lease whose holder died is taken over once it has expired.
 */
export class MongoLeaseLocks {
  readonly collection: Collection<LeaseDocument>;
  readonly leaseMs: number;
  readonly waitMs: number;

  constructor(db: Db, settings: { collection: string; leaseMs: number; waitMs: number }) {
    this.collection = db.collection<LeaseDocument>(settings.collection);
    this.leaseMs = settings.leaseMs;
    this.waitMs = settings.waitMs;
  }

  /** Runs `fn` while this process holds the lease on `feature`, renewing it as long as `fn` runs. */
  async hold<T>(feature: string, fn: () => Promise<T>): Promise<T> {
    const owner = randomUUID();
    await this.acquire(feature, owner);
    const renewal = this.keepRenewing(feature, owner);
    try {
      return await fn();
    } finally {
      renewal.stop();
      await this.release(feature, owner);
    }
  }

  private async acquire(feature: string, owner: string): Promise<void> {
    const what = `MongoFlagAdapter lockFeature(${describeInput(feature)})`;
    const deadline = Date.now() + this.waitMs;
    // The holder's expiry as last read; until the local clock passes it, a failed insert is all a
    // waiter needs per attempt, so waiting costs one round trip per attempt, not two.
    let seenExpiry = Number.NEGATIVE_INFINITY;
    for (let attempt = 0; ; attempt++) {
      const now = Date.now();
      try {
        await this.collection.insertOne({ _id: feature, owner, expiresAt: new Date(now + this.leaseMs) });
        return;
      } catch (error) {
        if (!isDuplicateKey(error)) throw translateError(error, 'ADAPTER_ERROR', what);
      }
      if (now >= seenExpiry) {
        let held: LeaseDocument | null;
        try {
          held = await this.collection.findOne({ _id: feature });
          if (held !== null && held.expiresAt instanceof Date && held.expiresAt.getTime() <= now) {
            // Owner and expiry in the filter: only the lease that was read is taken over, and
            // only by one waiter, since the update is atomic on one document.
            const taken = await this.collection.findOneAndUpdate(
              { _id: feature, owner: held.owner, expiresAt: held.expiresAt },
              { $set: { owner, expiresAt: new Date(now + this.leaseMs) } },
              { includeResultMetadata: false },
            );
            if (taken !== null) return;
          }
        } catch (error) {
          throw translateError(error, 'ADAPTER_ERROR', what);
        }
        if (held === null) continue; // released between the insert and the read: try again now
        seenExpiry = held.expiresAt instanceof Date ? held.expiresAt.getTime() : Number.NEGATIVE_INFINITY;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new FlagTrailError(
          'ADAPTER_ERROR',
          `${what}: the feature stayed locked by another writer for more than ${this.waitMs} ms ` +
            `(lease in collection "${this.collection.collectionName}"; raise locks.waitMs if writes hold it that long)`,
        );
      }
      // Growing, jittered waits, so waiters that collided do not collide again in step.
      const nominal = Math.min(50, 2 + attempt * 4);
      await sleep(Math.min(left, nominal * (0.5 + Math.random() * 0.5)));
    }
  }

  private keepRenewing(feature: string, owner: string): { stop(): void } {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const schedule = () => {
      timer = setTimeout(
        async () => {
          try {
            await this.collection.updateOne(
              { _id: feature, owner },
              { $set: { expiresAt: new Date(Date.now() + this.leaseMs) } },
            );
          } catch {
            // A missed renewal only shortens the lease; the next tick tries again, and a write
            // inside the lock fails on its own if the server is gone.
          }
          if (!stopped) schedule();
        },
        Math.floor(this.leaseMs / 3),
      );
      timer.unref();
    };
    schedule();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  private async release(feature: string, owner: string): Promise<void> {
    try {
      await this.collection.deleteOne({ _id: feature, owner });
    } catch (error) {
      // The work under the lock is done (its audit entry may still have to be recorded), so a
      // failed release must not turn it into a failure (nor hide the error `fn` threw): the
      // lease expires by itself after leaseMs, and the warning says so.
      process.emitWarning(
        `flagtrail: releasing the lock on ${describeInput(feature)} failed (${(error as Error)?.message ?? String(error)}); it expires after ${this.leaseMs} ms`,
        { code: 'FLAGTRAIL_LOCK_RELEASE' },
      );
    }
  }
}
