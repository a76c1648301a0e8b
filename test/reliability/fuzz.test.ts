// Random operation sequences by random actors against the memory backend, checked after every
// step against an independent model of Flipper's write semantics: the adapter's state equals the
// model, a write makes an entry exactly when it changed the model, the entry carries the model's
// before/after and the acting actor, and consecutive entries of one flag chain. A second property
// runs the same sequences through a store that fails at random, with retry on: once flushed, the
// trail is the same.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withActor } from '../../src/core/actor-context.js';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { compareCodeUnits, defaultGates, statesEqual } from '../../src/core/gates.js';
import type { AuditEntry, AuditStore, FlagState, GateValues, JsonObject } from '../../src/core/types.js';
import { MemoryAuditStore, MemoryFlagAdapter } from '../../src/memory/index.js';
import { applyOp, type WriteOp } from './workload.js';

const FEATURES = ['alpha', 'beta', '__proto__', 'ünï'];
const MEMBERS = ['1', '2', '10', 'a~b', 'x/y'];
const EXPRESSIONS: JsonObject[] = [
  { Equal: [{ Property: ['plan'] }, 'pro'] },
  { GreaterThan: [{ Property: ['age'] }, 18] },
];

const opArb: fc.Arbitrary<WriteOp> = fc
  .record({
    feature: fc.constantFrom(...FEATURES),
    actor: fc.constantFrom('ada', 'bob', 'cy', 'system-job'),
    choice: fc.nat(13),
    member: fc.constantFrom(...MEMBERS),
    percent: fc.constantFrom(0, 5, 25.5, 99.999, 100),
    expression: fc.constantFrom(...EXPRESSIONS),
  })
  .map(({ feature, actor, choice, member, percent, expression }): WriteOp => {
    const table: Array<Omit<WriteOp, 'feature' | 'actor'>> = [
      { kind: 'add' },
      { kind: 'remove' },
      { kind: 'clear' },
      { kind: 'enable', gate: 'boolean', value: true },
      { kind: 'disable', gate: 'boolean', value: false },
      { kind: 'enable', gate: 'actors', value: member },
      { kind: 'disable', gate: 'actors', value: member },
      { kind: 'enable', gate: 'groups', value: member },
      { kind: 'disable', gate: 'groups', value: member },
      { kind: 'enable', gate: 'percentageOfActors', value: percent },
      { kind: 'disable', gate: 'percentageOfActors', value: 0 },
      { kind: 'enable', gate: 'percentageOfTime', value: percent },
      { kind: 'enable', gate: 'expression', value: expression },
      { kind: 'disable', gate: 'expression', value: {} },
    ];
    return { feature, actor, ...table[choice]! };
  });

/** Flipper's write semantics, written out independently of the adapters. */
class Model {
  private readonly flags = new Map<string, GateValues>();

  state(feature: string): FlagState {
    const gates = this.flags.get(feature);
    return gates ? { exists: true, gates: structuredClone(gates) } : { exists: false, gates: defaultGates() };
  }

  all(): Record<string, GateValues> {
    const out: Record<string, GateValues> = {};
    for (const [k, v] of this.flags) {
      Object.defineProperty(out, k, {
        value: structuredClone(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  apply(op: WriteOp): void {
    const { feature } = op;
    if (op.kind === 'remove') {
      this.flags.delete(feature);
      return;
    }
    if (op.kind === 'add') {
      if (!this.flags.has(feature)) this.flags.set(feature, defaultGates());
      return;
    }
    if (op.kind === 'clear') {
      if (this.flags.has(feature)) this.flags.set(feature, defaultGates());
      return;
    }
    const g = this.flags.get(feature) ?? defaultGates();
    this.flags.set(feature, g);
    const on = op.kind === 'enable';
    switch (op.gate) {
      case 'boolean':
        this.flags.set(feature, { ...defaultGates(), boolean: on });
        return;
      case 'actors':
      case 'groups': {
        const set = new Set(g[op.gate]);
        if (on) set.add(op.value as string);
        else set.delete(op.value as string);
        g[op.gate] = [...set].sort(compareCodeUnits);
        return;
      }
      case 'percentageOfActors':
      case 'percentageOfTime':
        g[op.gate] = on ? (op.value as number) : 0;
        return;
      case 'expression':
        g.expression = on ? (op.value as JsonObject) : null;
        return;
    }
  }
}

async function entries(store: AuditStore): Promise<AuditEntry[]> {
  return (await store.query({ limit: 1000 })).reverse();
}

function expectChains(list: AuditEntry[]): void {
  const last = new Map<string, FlagState>();
  for (const entry of list) {
    const previous = last.get(entry.feature) ?? { exists: false, gates: defaultGates() };
    expect(statesEqual(entry.before, previous), `entry ${entry.id} of ${entry.feature} does not chain`).toBe(
      true,
    );
    last.set(entry.feature, entry.after);
  }
}

describe('fuzz: random operation sequences on the memory backend', () => {
  it('state equals the model after every step; entries exactly for changes; chains hold', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
        const inner = new MemoryFlagAdapter();
        const store = new MemoryAuditStore();
        const audited = withAuditTrail(inner, { store });
        const model = new Model();
        let count = 0;
        for (const op of ops) {
          const before = model.state(op.feature);
          model.apply(op);
          const after = model.state(op.feature);
          await applyOp(audited, op);
          expect(await inner.getAll()).toEqual(model.all());
          const list = await entries(store);
          if (statesEqual(before, after)) {
            expect(list).toHaveLength(count);
            continue;
          }
          count += 1;
          expect(list).toHaveLength(count);
          const entry = list.at(-1)!;
          expect(entry).toMatchObject({ feature: op.feature, operation: op.kind, actor: { id: op.actor } });
          expect(statesEqual(entry.before, before)).toBe(true);
          expect(statesEqual(entry.after, after)).toBe(true);
        }
        expectChains(await entries(store));
      }),
      { numRuns: 150 },
    );
  });

  it('concurrent writers and a store failing at random, with retry: the flushed trail is complete and chains', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 80 }),
        // About one record in four fails, independently: blips, not an outage.
        fc.infiniteStream(fc.nat(3).map((n) => n === 0)),
        async (ops, failures) => {
          const inner = new MemoryFlagAdapter();
          const memory = new MemoryAuditStore();
          const flaky: AuditStore = {
            name: 'flaky',
            record: (entry) =>
              failures.next().value ? Promise.reject(new Error('blip')) : memory.record(entry),
            query: (q) => memory.query(q),
          };
          const drops: unknown[] = [];
          const audited = withAuditTrail(inner, {
            store: flaky,
            onError: () => undefined,
            retry: { baseDelayMs: 1, maxDelayMs: 2, onDrop: (error) => drops.push(error) },
          });
          const reported: AuditEntry[] = [];
          audited.subscribe(({ entry }) => reported.push(entry));
          // All at once: per-flag serialization decides the order of each flag's writes.
          await Promise.all(ops.map((op) => applyOp(audited, op)));
          // The store keeps failing at random; flush until everything is in.
          while ((await audited.flush({ timeoutMs: 1000 })) > 0);
          const list = await entries(memory);
          expect(drops).toEqual([]);
          expect(list.map((e) => e.id).sort()).toEqual(reported.map((e) => e.id).sort());
          expectChains(list);
          // The last entry of each flag ends where the flag really is.
          const byFeature = new Map(list.map((e) => [e.feature, e.after]));
          for (const [feature, after] of byFeature) {
            expect(
              statesEqual(
                await audited.exists(feature).then(async (exists) => ({
                  exists,
                  gates: exists ? await inner.get(feature) : defaultGates(),
                })),
                after,
              ),
            ).toBe(true);
          }
          await audited.close({ timeoutMs: 0 });
        },
      ),
      { numRuns: 100 },
    );
  });
});

// Ops are applied through a helper shared with the outage scenarios; a smoke check that it runs
// actors through withActor, which the properties above rely on.
it('applyOp attributes to op.actor', async () => {
  const audited = withAuditTrail(new MemoryFlagAdapter());
  await applyOp(audited, { feature: 'f', kind: 'add', actor: 'zed' });
  await withActor({ id: 'other' }, () =>
    applyOp(audited, { feature: 'f', kind: 'enable', gate: 'actors', value: '1', actor: 'zed' }),
  );
  expect((await audited.history()).map((e) => e.actor.id)).toEqual(['zed', 'zed']);
});
