// Prisma-specific behaviour, run against each real database by specific-<provider>.test.ts:
// Flipper's row layout, rows written by other tools, duplicate inserts from two processes, the
// atomic fail-closed transaction, lost connections, history evaluated in SQL, feature locks.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { withActor } from '../../src/core/actor-context.js';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { FlagTrailError, isFlagTrailError } from '../../src/core/errors.js';
import { defaultGates } from '../../src/core/gates.js';
import type { AuditEntry, FlagAdapter } from '../../src/core/types.js';
import { type InvalidGateRow, PrismaAuditStore, PrismaFlagAdapter } from '../../src/prisma/index.js';
import { makeAuditEntry, uuidv7At } from '../../src/testing/index.js';
import {
  createPrismaTestDatabase,
  MARIADB_URL,
  PG_URL,
  type PrismaTestDatabase,
  type TestProvider,
  truncateFlagTables,
} from '../support/prisma-db.js';
import { startTcpProxy } from '../support/prisma-proxy.js';

async function rejection(promise: Promise<unknown>): Promise<FlagTrailError> {
  try {
    await promise;
  } catch (error) {
    if (isFlagTrailError(error)) return error;
    throw new Error(`expected a FlagTrailError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected the promise to reject');
}

function gateRows(db: PrismaTestDatabase, feature: string) {
  return db.sql(
    `SELECT g.id AS id, g.key AS k, g.value AS v FROM flipper_gates g WHERE g.feature_key = ${db.provider === 'postgresql' ? '$1' : '?'} ORDER BY g.key, g.value`,
    [feature],
  );
}

function insertGateRow(db: PrismaTestDatabase, feature: string, key: string, value: string | null) {
  const p = db.provider === 'postgresql' ? ['$1', '$2', '$3'] : ['?', '?', '?'];
  const now = db.provider === 'sqlite' ? "'2024-01-01T00:00:00.000+00:00'" : 'CURRENT_TIMESTAMP';
  const key_ = db.provider === 'mysql' ? '`key`' : 'key';
  return db.sql(
    `INSERT INTO flipper_gates (feature_key, ${key_}, value, created_at, updated_at) VALUES (${p[0]}, ${p[1]}, ${p[2]}, ${now}, ${now})`,
    [feature, key, value],
  );
}

/** Makes inserting an audit entry for feature "doomed" fail inside the database. */
async function refuseDoomedEntries(db: PrismaTestDatabase): Promise<void> {
  if (db.provider === 'sqlite') {
    await db.sql(
      "CREATE TRIGGER flagtrail_test_no_doomed BEFORE INSERT ON flagtrail_audit_entries WHEN NEW.feature = 'doomed' BEGIN SELECT RAISE(ABORT, 'doomed entries are refused'); END",
    );
  } else {
    await db.sql(
      "ALTER TABLE flagtrail_audit_entries ADD CONSTRAINT flagtrail_test_no_doomed CHECK (feature <> 'doomed')",
    );
  }
}

export function prismaBackendTests(provider: TestProvider): void {
  describe(`Prisma backend on ${provider}`, () => {
    let db: PrismaTestDatabase;
    let adapter: PrismaFlagAdapter;

    beforeAll(async () => {
      db = await createPrismaTestDatabase(provider);
      await refuseDoomedEntries(db);
    });
    afterAll(async () => {
      await db?.drop();
    });
    beforeEach(async () => {
      await truncateFlagTables(db);
      adapter = new PrismaFlagAdapter(db.prisma, { onInvalidRow: () => undefined });
    });

    describe('construction', () => {
      it('names the missing model and the file to add when the client lacks the Flipper models', () => {
        const client = new Proxy(db.prisma, {
          get: (target, prop, receiver) =>
            prop === 'flipperGate' ? undefined : Reflect.get(target, prop, receiver),
        });
        let error: unknown;
        try {
          new PrismaFlagAdapter(client);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(FlagTrailError);
        expect((error as FlagTrailError).code).toBe('MISSING_MODEL');
        expect((error as FlagTrailError).message).toContain('FlipperGate');
        expect((error as FlagTrailError).message).toContain('prisma/flagtrail.prisma');
      });

      it('fails at wrap time, naming FlagtrailAuditEntry, when the audit model is missing', () => {
        const client = new Proxy(db.prisma, {
          get: (target, prop, receiver) =>
            prop === 'flagtrailAuditEntry' ? undefined : Reflect.get(target, prop, receiver),
        });
        const flags = new PrismaFlagAdapter(client);
        let error: unknown;
        try {
          withAuditTrail(flags);
        } catch (e) {
          error = e;
        }
        expect((error as FlagTrailError).code).toBe('MISSING_MODEL');
        expect((error as FlagTrailError).message).toContain('FlagtrailAuditEntry');
      });

      it('refuses a provider flagtrail does not speak', () => {
        expect(() => new PrismaFlagAdapter(db.prisma, { provider: 'sqlserver' as never })).toThrow(
          expect.objectContaining({ code: 'INVALID_OPTION' }),
        );
      });

      it('infers a PrismaAuditStore on the same client and shares transactions only with it', () => {
        const store = adapter.defaultAuditStore();
        expect(store).toBeInstanceOf(PrismaAuditStore);
        expect(adapter.defaultAuditStore()).toBe(store);
        expect(adapter.transactionWith(store)).toBeTypeOf('function');
        expect(adapter.transactionWith(new PrismaAuditStore(db.prisma))).toBeTypeOf('function');
        expect(
          adapter.transactionWith({ name: 'other', record: async () => {}, query: async () => [] }),
        ).toBe(undefined);
      });
    });

    describe("Ruby Flipper's rows", () => {
      it('stores every gate the way Flipper does: string values, one row per member', async () => {
        await adapter.enable('f', 'actors', '42');
        await adapter.enable('f', 'actors', '7');
        await adapter.enable('f', 'groups', 'admins');
        await adapter.enable('f', 'percentageOfActors', 12.5);
        await adapter.enable('f', 'percentageOfTime', 5);
        await adapter.enable('f', 'expression', { Equal: [{ Property: 'plan' }, 'pro'] });
        const rows = (await gateRows(db, 'f')).map((r) => [r.k, r.v]);
        expect(rows).toEqual([
          ['actors', '42'],
          ['actors', '7'],
          ['expression', '{"Equal":[{"Property":"plan"},"pro"]}'],
          ['groups', 'admins'],
          ['percentage_of_actors', '12.5'],
          ['percentage_of_time', '5'],
        ]);
        await adapter.enable('f', 'boolean', true);
        expect((await gateRows(db, 'f')).map((r) => [r.k, r.v])).toEqual([['boolean', 'true']]);
        await adapter.disable('f', 'percentageOfTime', 5);
        expect((await gateRows(db, 'f')).map((r) => [r.k, r.v])).toEqual([
          ['boolean', 'true'],
          ['percentage_of_time', '0'],
        ]);
        const features = await db.sql(
          'SELECT f.key AS k, f.created_at AS c, f.updated_at AS u FROM flipper_features f',
        );
        expect(features).toHaveLength(1);
        expect(features[0]?.k).toBe('f');
        expect(features[0]?.c).not.toBeNull();
        expect(features[0]?.u).not.toBeNull();
      });

      it('reads state (existence and gates) in one query, gates of unregistered features included', async () => {
        await adapter.enable('f', 'groups', 'admins');
        await insertGateRow(db, 'ghost', 'actors', '1');
        expect(await adapter.state('f')).toEqual({
          exists: true,
          gates: { ...defaultGates(), groups: ['admins'] },
        });
        expect(await adapter.state('ghost')).toEqual({
          exists: false,
          gates: { ...defaultGates(), actors: ['1'] },
        });
        expect(await adapter.state('none')).toEqual({ exists: false, gates: defaultGates() });
      });

      it("answers the trail's exists + get pair with one query, and never from before a write", async () => {
        const sqlSeen: string[] = [];
        const counted = new PrismaFlagAdapter(await db.newClient({ onQuery: (sql) => sqlSeen.push(sql) }));
        await counted.enable('pair', 'actors', '1');
        sqlSeen.length = 0;
        const [exists, gates] = await Promise.all([counted.exists('pair'), counted.get('pair')]);
        expect(exists).toBe(true);
        expect(gates.actors).toEqual(['1']);
        expect(sqlSeen.filter((q) => /flipper_/i.test(q))).toHaveLength(1);
        // A read asked after a write was issued does not join the batch of a read asked before it.
        sqlSeen.length = 0;
        const before = counted.get('pair');
        const write = counted.enable('pair', 'actors', '2');
        const after = counted.get('pair');
        await Promise.all([before, write, after]);
        expect(sqlSeen.filter((q) => /union all/i.test(q))).toHaveLength(2);
        expect((await counted.get('pair')).actors).toEqual(['1', '2']);
      });

      it('ignores unknown gate rows and reads unparseable values as defaults, reporting them', async () => {
        const reported: InvalidGateRow[] = [];
        const reading = new PrismaFlagAdapter(db.prisma, { onInvalidRow: (row) => reported.push(row) });
        await reading.add('odd');
        await insertGateRow(db, 'odd', 'percentage_of_actors', 'abc');
        await insertGateRow(db, 'odd', 'percentage_of_time', '250');
        await insertGateRow(db, 'odd', 'expression', '{not json');
        await insertGateRow(db, 'odd', 'boolean', 'yes');
        await insertGateRow(db, 'odd', 'frobnicate', 'whatever');
        await insertGateRow(db, 'odd', 'actors', '42');
        const expected = { ...defaultGates(), actors: ['42'] };
        expect(await reading.get('odd')).toEqual(expected);
        expect((await reading.getAll()).odd).toEqual(expected);
        expect((await reading.getMulti(['odd'])).odd).toEqual(expected);
        expect((await reading.state('odd')).gates).toEqual(expected);
        const distinct = new Map(reported.map((r) => [`${r.gate}=${r.value}`, r]));
        expect([...distinct.keys()].sort()).toEqual([
          'boolean=yes',
          'expression={not json',
          'percentage_of_actors=abc',
          'percentage_of_time=250',
        ]);
        expect(distinct.get('percentage_of_actors=abc')).toEqual({
          feature: 'odd',
          gate: 'percentage_of_actors',
          value: 'abc',
          reason: 'percentage is not a number',
        });
      });

      it('by default warns once per bad row on stderr, however often it is read', async () => {
        const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
        try {
          const reading = new PrismaFlagAdapter(db.prisma);
          await insertGateRow(db, 'odd', 'percentage_of_actors', 'abc');
          await reading.get('odd');
          await reading.get('odd');
          const lines = write.mock.calls.map((c) => String(c[0])).filter((l) => l.startsWith('flagtrail:'));
          expect(lines).toHaveLength(1);
          expect(lines[0]).toContain('"percentage_of_actors"');
          expect(lines[0]).toContain('"abc"');
        } finally {
          write.mockRestore();
        }
      });

      it('reads percentages Ruby writes as floats ("25.0") and rounds beyond three decimals', async () => {
        await insertGateRow(db, 'r', 'percentage_of_actors', '25.0');
        await insertGateRow(db, 'r', 'percentage_of_time', '33.33333');
        const g = await adapter.get('r');
        expect(g.percentageOfActors).toBe(25);
        expect(g.percentageOfTime).toBe(33.333);
      });
    });

    describe('two processes writing the same rows', () => {
      it('treats concurrent duplicate inserts as done', async () => {
        const other = new PrismaFlagAdapter(await db.newClient());
        await Promise.all([
          adapter.enable('dup', 'actors', '1'),
          other.enable('dup', 'actors', '1'),
          adapter.add('dup'),
          other.add('dup'),
          adapter.enable('dup', 'groups', 'g'),
          other.enable('dup', 'groups', 'g'),
        ]);
        expect((await gateRows(db, 'dup')).map((r) => [r.k, r.v])).toEqual([
          ['actors', '1'],
          ['groups', 'g'],
        ]);
        expect(await adapter.features()).toEqual(['dup']);
      });
    });

    describe('failClosed', () => {
      it('commits the write and its entry together in one transaction', async () => {
        const flags = withAuditTrail(adapter, { failClosed: true });
        await withActor({ id: 'u1' }, () => flags.enable('ok', 'actors', '42'));
        expect((await adapter.get('ok')).actors).toEqual(['42']);
        const entries = await flags.history({ feature: 'ok' });
        expect(entries).toHaveLength(1);
        expect(entries[0]?.actor.id).toBe('u1');
      });

      it('a failed entry insert rolls the write back: the flag and its rows are untouched', async () => {
        const setup = withAuditTrail(adapter, { failClosed: true });
        await setup.enable('doomed-setup', 'actors', 'x'); // proves writes work before the failing one
        await adapter.enable('doomed', 'actors', '1');
        await adapter.enable('doomed', 'percentageOfActors', 30);
        const rowsBefore = await gateRows(db, 'doomed');
        const stateBefore = await adapter.state('doomed');
        const onError = vi.fn();
        const flags = withAuditTrail(adapter, { failClosed: true, onError });
        for (const write of [
          () => flags.enable('doomed', 'boolean', true),
          () => flags.enable('doomed', 'actors', '2'),
          () => flags.disable('doomed', 'actors', '1'),
          () => flags.enable('doomed', 'percentageOfActors', 60),
          () => flags.remove('doomed'),
          () => flags.clear('doomed'),
        ]) {
          const error = await rejection(write());
          expect(error.code).toMatch(/^AUDIT_/);
        }
        // Same rows with the same ids: rolled back, not undone by later writes.
        expect(await gateRows(db, 'doomed')).toEqual(rowsBefore);
        expect(await adapter.state('doomed')).toEqual(stateBefore);
        expect(await flags.history({ feature: 'doomed' })).toEqual([]);
      });

      it('fail-open keeps the write outside the transaction: it stands and onError hears of the entry', async () => {
        const errors: [FlagTrailError, AuditEntry][] = [];
        const flags = withAuditTrail(adapter, { onError: (e, entry) => errors.push([e, entry]) });
        await flags.enable('doomed', 'actors', '9');
        expect((await adapter.get('doomed')).actors).toEqual(['9']);
        expect(errors).toHaveLength(1);
        expect(errors[0]?.[1].feature).toBe('doomed');
        expect(await flags.history({ feature: 'doomed' })).toEqual([]);
      });
    });

    describe('history in SQL', () => {
      it('evaluates every filter, the cursor and the limit in one SQL query, newest first', async () => {
        const sqlSeen: string[] = [];
        const store = new PrismaAuditStore(await db.newClient({ onQuery: (sql) => sqlSeen.push(sql) }));
        const t0 = Date.UTC(2025, 0, 1);
        const all: AuditEntry[] = [];
        for (let i = 0; i < 60; i++) {
          const entry = makeAuditEntry({
            createdAt: new Date(t0 + i * 1000),
            id: uuidv7At(t0 + i * 1000, i),
            feature: i % 2 === 0 ? 'a' : 'b',
            actor: { id: i % 3 === 0 ? 'alice' : 'bob' },
            operation: i % 4 === 0 ? 'disable' : 'enable',
            gate: i % 5 === 0 ? 'actors' : 'boolean',
            value: i % 5 === 0 ? String(i) : true,
          });
          all.push(entry);
          await store.record(entry);
        }
        const query = {
          feature: 'a',
          actorId: 'alice',
          operation: ['enable', 'disable'] as ('enable' | 'disable')[],
          gate: 'boolean' as const,
          since: new Date(t0 + 5_000),
          until: new Date(t0 + 55_000),
          before: all[50]?.id,
          limit: 3,
        };
        sqlSeen.length = 0;
        const page = await store.query(query);
        const expected = all
          .filter(
            (e) =>
              e.feature === 'a' &&
              e.actor.id === 'alice' &&
              e.gate === 'boolean' &&
              e.createdAt.getTime() >= t0 + 5_000 &&
              e.createdAt.getTime() < t0 + 55_000 &&
              e.id < (all[50]?.id ?? ''),
          )
          .reverse()
          .slice(0, 3);
        expect(page.map((e) => e.id)).toEqual(expected.map((e) => e.id));
        expect(page[0]?.createdAt).toBeInstanceOf(Date);
        const selects = sqlSeen.filter((s) => /flagtrail_audit_entries/i.test(s) && /^\s*select/i.test(s));
        expect(selects).toHaveLength(1);
        const sql = (selects[0] ?? '').toLowerCase();
        for (const column of ['feature', 'actor_id', 'operation', 'gate', 'created_at']) {
          expect(sql).toMatch(new RegExp(`${column}\\W*\\s*(=|in|>=|<)`));
        }
        expect(sql).toMatch(/\bid\W*\s*</);
        expect(sql).toMatch(/order by .*id\W* desc/);
        expect(sql).toMatch(/limit/);
      });

      it('stores a null value as SQL NULL and JSON values as JSON, and reads them back', async () => {
        const asText = { postgresql: 'e.value::text', mysql: 'CAST(e.value AS CHAR)', sqlite: 'e.value' };
        const store = adapter.defaultAuditStore();
        const add = makeAuditEntry({ operation: 'add', gate: null, value: null, feature: 'n' });
        const actor = makeAuditEntry({ gate: 'actors', value: '42', feature: 'n' });
        await store.record(add);
        await store.record(actor);
        const raw = await db.sql(
          `SELECT e.id AS id, ${asText[provider]} AS v FROM flagtrail_audit_entries e WHERE e.feature = ${provider === 'postgresql' ? '$1' : '?'}`,
          ['n'],
        );
        const byId = new Map(raw.map((r) => [r.id, r.v]));
        expect(byId.get(add.id)).toBeNull();
        expect(byId.get(actor.id)).toBe('"42"');
        const back = await store.query({ feature: 'n' });
        expect(back.map((e) => e.value)).toEqual(['42', null]);
      });
    });

    describe('driver errors', () => {
      it('turns a missing table into ADAPTER_ERROR that says how to create it', async () => {
        const rename = (from: string, to: string) => db.sql(`ALTER TABLE ${from} RENAME TO ${to}`);
        await rename('flipper_gates', 'flipper_gates_away');
        try {
          const error = await rejection(adapter.get('x'));
          expect(error.code).toBe('ADAPTER_ERROR');
          expect(error.message).toContain(`prisma/sql/${provider}.sql`);
          expect(error.cause).toBeDefined();
        } finally {
          await rename('flipper_gates_away', 'flipper_gates');
        }
      });
    });

    if (provider !== 'sqlite') {
      describe('a lost connection', () => {
        it('during record follows fail-open: the write stands and onError gets a typed error', async () => {
          const service = new URL(provider === 'postgresql' ? PG_URL : MARIADB_URL);
          const proxy = await startTcpProxy(
            Number(service.port || (provider === 'postgresql' ? 5432 : 3306)),
          );
          try {
            const store = new PrismaAuditStore(await db.newClient({ port: proxy.port }));
            await store.query({ limit: 1 }); // connected through the proxy
            const errors: FlagTrailError[] = [];
            const flags = withAuditTrail(adapter, {
              store,
              onError: (e) => errors.push(e),
              auditTimeoutMs: 30_000,
            });
            proxy.cut();
            await flags.enable('lost', 'groups', 'admins');
            expect((await adapter.get('lost')).groups).toEqual(['admins']);
            expect(errors).toHaveLength(1);
            expect(errors[0]?.code).toMatch(/^AUDIT_/);
            expect(await adapter.defaultAuditStore().query({ feature: 'lost' })).toEqual([]);
          } finally {
            await proxy.close();
          }
        });

        it('during record with failClosed rejects the write and leaves the flag as it was', async () => {
          const service = new URL(provider === 'postgresql' ? PG_URL : MARIADB_URL);
          const proxy = await startTcpProxy(
            Number(service.port || (provider === 'postgresql' ? 5432 : 3306)),
          );
          try {
            const client = await db.newClient({ port: proxy.port });
            const through = new PrismaFlagAdapter(client, { onInvalidRow: () => undefined });
            await through.enable('lost2', 'actors', '1');
            const flags = withAuditTrail(through, { failClosed: true, auditTimeoutMs: 30_000 });
            proxy.cut();
            const error = await rejection(flags.enable('lost2', 'actors', '2'));
            expect(isFlagTrailError(error)).toBe(true);
            expect((await adapter.get('lost2')).actors).toEqual(['1']);
          } finally {
            await proxy.close();
          }
        });
      });

      describe('lockFeature', () => {
        it('makes a second process wait until the first releases the feature', async () => {
          const other = new PrismaFlagAdapter(await db.newClient());
          const order: string[] = [];
          let release!: () => void;
          const held = new Promise<void>((resolve) => {
            release = resolve;
          });
          let entered!: () => void;
          const inside = new Promise<void>((resolve) => {
            entered = resolve;
          });
          const first = adapter.lockFeature('locked', async (a: FlagAdapter) => {
            entered();
            order.push('first in');
            await held;
            await a.enable('locked', 'actors', '1');
            order.push('first out');
          });
          await inside;
          const second = other.lockFeature('locked', async (a: FlagAdapter) => {
            order.push('second in');
            await a.enable('locked', 'actors', '2');
          });
          // Wait until the database reports the second session blocked on the lock.
          const waiting =
            provider === 'postgresql'
              ? "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
              : "SELECT count(*) AS n FROM information_schema.processlist WHERE state LIKE '%lock%' AND info LIKE 'SELECT GET_LOCK%'";
          for (;;) {
            const rows = await db.sql(waiting);
            if (Number(rows[0]?.n) > 0) break;
          }
          expect(order).toEqual(['first in']);
          release();
          await Promise.all([first, second]);
          expect(order).toEqual(['first in', 'first out', 'second in']);
          expect((await adapter.get('locked')).actors).toEqual(['1', '2']);
        });
      });
    }
  });
}
