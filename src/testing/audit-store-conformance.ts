import { describe, expect } from 'vitest';
import { isFlagTrailError } from '../core/errors.js';
import { defaultGates } from '../core/gates.js';
import type { AuditEntry, AuditStore, HistoryQuery } from '../core/types.js';
import { makeAuditEntry } from './entries.js';
import { type ConformanceOptions, conformanceTest, useSubject } from './flag-adapter-conformance.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

async function expectQueryError(store: AuditStore, query: unknown): Promise<void> {
  let error: unknown;
  try {
    await store.query(query as HistoryQuery);
  } catch (e) {
    error = e;
  }
  expect(
    isFlagTrailError(error),
    `expected INVALID_QUERY for ${JSON.stringify(query)}, got ${String(error)}`,
  ).toBe(true);
  expect((error as { code: string }).code).toBe('INVALID_QUERY');
}

function ids(entries: AuditEntry[]): string[] {
  return entries.map((e) => e.id);
}

/** Twelve entries over two features, three actors and every operation, one minute apart. */
function sampleEntries(): AuditEntry[] {
  const spec: Array<[string, string, AuditEntry['operation'], AuditEntry['gate']]> = [
    ['checkout', 'ada', 'add', null],
    ['checkout', 'ada', 'enable', 'actors'],
    ['search', 'bob', 'enable', 'percentageOfActors'],
    ['checkout', 'bob', 'enable', 'groups'],
    ['search', 'cy', 'disable', 'percentageOfActors'],
    ['checkout', 'ada', 'disable', 'actors'],
    ['search', 'ada', 'enable', 'boolean'],
    ['checkout', 'cy', 'clear', null],
    ['search', 'bob', 'enable', 'expression'],
    ['checkout', 'bob', 'enable', 'percentageOfTime'],
    ['search', 'cy', 'remove', null],
    ['checkout', 'ada', 'enable', 'boolean'],
  ];
  return spec.map(([feature, actor, operation, gate], i) =>
    makeAuditEntry({
      feature,
      operation,
      gate,
      value: gate === null ? null : gate === 'boolean' ? true : gate.startsWith('percentage') ? 25 : `v${i}`,
      actor: { id: actor },
      createdAt: new Date(T0 + i * 60_000),
    }),
  );
}

/**
 * The behaviour every `AuditStore` must have: exact round trips, newest-first order, every
 * `HistoryQuery` filter, the keyset cursor, idempotent `record`, and typed errors for bad
 * queries. Call it at the top level of a vitest file.
 *
 * @example
 * ```ts
 * auditStoreConformance('memory', { create: () => new MemoryAuditStore() });
 * ```
 */
export function auditStoreConformance(label: string, options: ConformanceOptions<AuditStore>): void {
  describe(`AuditStore conformance: ${label}`, () => {
    const store = useSubject(options);
    const test = conformanceTest(options.skip);

    async function seed(): Promise<AuditEntry[]> {
      const entries = sampleEntries();
      // Recorded out of order on purpose: concurrent writes finish in any order.
      for (const entry of [...entries].reverse()) await store().record(entry);
      return entries;
    }

    test('has a non-empty name', async () => {
      expect(typeof store().name).toBe('string');
      expect(store().name.length).toBeGreaterThan(0);
    });

    test('an empty store answers an empty list', async () => {
      expect(await store().query({})).toEqual([]);
    });

    test('an entry round-trips exactly, JSON and dates included', async () => {
      const entry = makeAuditEntry({
        feature: 'a.b$c/ü 🚀',
        operation: 'enable',
        gate: 'expression',
        value: { Equal: [{ Property: ['plan'] }, 'pro'], nested: { list: [1, 2.5, null, true, 'x'] } },
        before: { exists: true, gates: { ...defaultGates(), actors: ['$ne', 'a.b', '__proto__'] } },
        after: {
          exists: true,
          gates: {
            ...defaultGates(),
            actors: ['$ne', 'a.b', '__proto__'],
            expression: { Equal: [{ Property: ['plan'] }, 'pro'] },
          },
        },
        actor: { id: 'u-1', label: 'Ada Lovelace', type: 'user' },
        context: {
          reason: 'launch ✓',
          requestId: 'r-9',
          ip: '127.0.0.1',
          userAgent: 'curl/8',
          extra: { n: [1, { m: null }] },
        },
        createdAt: new Date(T0 + 123),
      });
      await store().record(entry);
      const [back] = await store().query({ feature: entry.feature });
      expect(back).toEqual(entry);
      expect(back?.createdAt).toBeInstanceOf(Date);
      expect(back?.createdAt.getTime()).toBe(T0 + 123);
    });

    test('entries without gate and value, and actors without label or type, round-trip', async () => {
      const entry = makeAuditEntry({
        operation: 'remove',
        gate: null,
        value: null,
        actor: { id: 'system', type: 'system' },
        context: {},
      });
      await store().record(entry);
      expect(await store().query({})).toEqual([entry]);
    });

    test('results are newest first, by id', async () => {
      const entries = await seed();
      expect(ids(await store().query({}))).toEqual(ids(entries).reverse());
    });

    test('recording the same id twice stores it once', async () => {
      const entry = makeAuditEntry({});
      await store().record(entry);
      await store().record(entry);
      await Promise.all([store().record(entry), store().record(entry)]);
      expect(await store().query({})).toHaveLength(1);
    });

    test('filters: feature, actorId, operation, gate', async () => {
      const entries = await seed();
      const expectIds = async (query: HistoryQuery, pick: (e: AuditEntry) => boolean) =>
        expect(ids(await store().query(query))).toEqual(ids(entries.filter(pick)).reverse());
      await expectIds({ feature: 'search' }, (e) => e.feature === 'search');
      await expectIds({ actorId: 'bob' }, (e) => e.actor.id === 'bob');
      await expectIds({ operation: 'enable' }, (e) => e.operation === 'enable');
      await expectIds(
        { operation: ['add', 'remove'] },
        (e) => e.operation === 'add' || e.operation === 'remove',
      );
      await expectIds({ gate: 'actors' }, (e) => e.gate === 'actors');
      await expectIds(
        { feature: 'checkout', actorId: 'ada', operation: 'enable' },
        (e) => e.feature === 'checkout' && e.actor.id === 'ada' && e.operation === 'enable',
      );
      expect(await store().query({ feature: 'nope' })).toEqual([]);
    });

    test('filters: since is inclusive, until exclusive', async () => {
      const entries = await seed();
      const since = new Date(T0 + 3 * 60_000);
      const until = new Date(T0 + 7 * 60_000);
      expect(ids(await store().query({ since, until }))).toEqual(ids(entries.slice(3, 7)).reverse());
      expect(ids(await store().query({ since: new Date(T0 + 11 * 60_000) }))).toEqual([entries[11]!.id]);
      expect(await store().query({ until: new Date(T0) })).toEqual([]);
    });

    test('limit caps the page; the default is 100', async () => {
      const entries = await seed();
      expect(ids(await store().query({ limit: 3 }))).toEqual(ids(entries.slice(-3)).reverse());
      for (let i = 0; i < 110; i++)
        await store().record(makeAuditEntry({ createdAt: new Date(T0 + 3_600_000 + i) }));
      expect(await store().query({})).toHaveLength(100);
      expect(await store().query({ limit: 1000 })).toHaveLength(122);
    });

    test('the before cursor pages through everything exactly once', async () => {
      const entries = await seed();
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await store().query(before ? { limit: 5, before } : { limit: 5 });
        if (page.length === 0) break;
        seen.push(...ids(page));
        before = page.at(-1)!.id;
      }
      expect(seen).toEqual(ids(entries).reverse());
      const filtered = await store().query({ feature: 'checkout', before: entries[5]!.id });
      expect(ids(filtered)).toEqual(
        ids(entries.slice(0, 5).filter((e) => e.feature === 'checkout')).reverse(),
      );
    });

    test('entries read back are copies', async () => {
      const entry = makeAuditEntry({});
      await store().record(entry);
      const [first] = await store().query({});
      first!.actor.id = 'mallory';
      first!.after.gates.actors.push('evil');
      expect(await store().query({})).toEqual([entry]);
    });

    test('bad queries are refused with INVALID_QUERY', async () => {
      await seed();
      const bad: unknown[] = [
        { feature: { $ne: null } },
        { feature: '' },
        { feature: ['checkout'] },
        { actorId: { $gt: '' } },
        { actorId: 42 },
        { operation: 'explode' },
        { operation: [] },
        { operation: [{ $ne: 'add' }] },
        { gate: 'nope' },
        { since: 'yesterday-ish' },
        { until: new Date(Number.NaN) },
        { since: { $gt: 0 } },
        { limit: 0 },
        { limit: 1001 },
        { limit: 2.5 },
        { limit: '10' },
        { before: 'not-an-id' },
        { before: { $gt: '' } },
        { unknownFilter: 1 },
        'checkout',
      ];
      for (const query of bad) await expectQueryError(store(), query);
    });

    test.checkSkips();
  });
}
