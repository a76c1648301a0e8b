import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { MemoryAuditStore } from '../memory/memory-audit-store.js';
import { MemoryFlagAdapter } from '../memory/memory-flag-adapter.js';
import { withAuditTrail } from './audited-adapter.js';
import { describeChange } from './describe.js';
import { diffStates, keyedState } from './diff.js';
import { defaultGates } from './gates.js';
import type { FlagAdapter, FlagState, JsonObject } from './types.js';

const state = (gates: Partial<FlagState['gates']>, exists = true): FlagState => ({
  exists,
  gates: { ...defaultGates(), ...gates },
});

function replays(before: FlagState, after: FlagState): void {
  const changes = diffStates(before, after);
  const replayed = jsonPatch.applyPatch(
    structuredClone(keyedState(before)),
    changes as jsonPatch.Operation[],
    true,
    false,
    false,
  ).newDocument;
  expect(replayed).toEqual(keyedState(after));
}

describe('diffStates', () => {
  it('names set members in paths, escaping ~ and / per RFC 6901', () => {
    const changes = diffStates(state({ actors: ['a/b'] }), state({ actors: ['x~y'], groups: ['admins'] }));
    expect(changes).toEqual(
      expect.arrayContaining([
        { op: 'remove', path: '/gates/actors/a~1b' },
        { op: 'add', path: '/gates/actors/x~0y', value: true },
        { op: 'add', path: '/gates/groups/admins', value: true },
      ]),
    );
    expect(changes).toHaveLength(3);
  });

  it('replaces scalars and diffs inside expressions', () => {
    expect(diffStates(state({ percentageOfActors: 10 }), state({ percentageOfActors: 25 }))).toEqual([
      { op: 'replace', path: '/gates/percentageOfActors', value: 25 },
    ]);
    expect(diffStates(state({ expression: null }), state({ expression: { Boolean: [true] } }))).toEqual([
      { op: 'replace', path: '/gates/expression', value: { Boolean: [true] } },
    ]);
  });

  it('keeps a member named __proto__ as data', () => {
    const keyed = keyedState(state({ actors: ['__proto__'] })) as { gates: { actors: JsonObject } };
    expect(Object.keys(keyed.gates.actors)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(keyed.gates.actors)).toBeNull();
    expect(diffStates(state({}), state({ actors: ['__proto__'] }))).toEqual([
      { op: 'add', path: '/gates/actors/__proto__', value: true },
    ]);
  });

  it('property: for random operation sequences the patch replays before into after', async () => {
    const member = fc.constantFrom('1', '2', 'a/b', 'c~d', '$ne', 'a.b', 'ü', '');
    const percent = fc.integer({ min: 0, max: 100_000 }).map((n) => n / 1000);
    const expression = fc.constantFrom<JsonObject>(
      { Boolean: [true] },
      { Equal: [{ Property: ['plan'] }, 'pro'] },
    );
    const op = fc.oneof(
      fc.record({ kind: fc.constant('enableBool' as const) }),
      fc.record({ kind: fc.constant('disableBool' as const) }),
      fc.record({
        kind: fc.constantFrom(
          'enableActor' as const,
          'disableActor' as const,
          'enableGroup' as const,
          'disableGroup' as const,
        ),
        m: member,
      }),
      fc.record({ kind: fc.constantFrom('pActors' as const, 'pTime' as const), p: percent }),
      fc.record({ kind: fc.constant('expr' as const), e: expression }),
      fc.record({
        kind: fc.constantFrom('add' as const, 'remove' as const, 'clear' as const, 'noExpr' as const),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const store = new MemoryAuditStore();
        const flags: FlagAdapter = withAuditTrail(new MemoryFlagAdapter(), { store });
        for (const o of ops) {
          const m = 'm' in o && o.m !== '' ? o.m : 'x';
          switch (o.kind) {
            case 'enableBool':
              await flags.enable('f', 'boolean', true);
              break;
            case 'disableBool':
              await flags.disable('f', 'boolean', false);
              break;
            case 'enableActor':
              await flags.enable('f', 'actors', m);
              break;
            case 'disableActor':
              await flags.disable('f', 'actors', m);
              break;
            case 'enableGroup':
              await flags.enable('f', 'groups', m);
              break;
            case 'disableGroup':
              await flags.disable('f', 'groups', m);
              break;
            case 'pActors':
              await flags.enable('f', 'percentageOfActors', o.p);
              break;
            case 'pTime':
              await flags.enable('f', 'percentageOfTime', o.p);
              break;
            case 'expr':
              await flags.enable('f', 'expression', o.e);
              break;
            case 'noExpr':
              await flags.disable('f', 'expression', {});
              break;
            case 'add':
              await flags.add('f');
              break;
            case 'remove':
              await flags.remove('f');
              break;
            case 'clear':
              await flags.clear('f');
              break;
          }
        }
        const entries = (await store.query({ limit: 1000 })).reverse();
        for (const entry of entries) {
          expect(entry.changes.length).toBeGreaterThan(0);
          replays(entry.before, entry.after);
          expect(describeChange(entry).length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('describeChange', () => {
  it('renders one line per change', () => {
    expect(describeChange({ before: state({}, false), after: state({ actors: ['42'] }) })).toEqual([
      'feature: added',
      'actors: +42',
    ]);
    expect(
      describeChange({
        before: state({ actors: ['1', '2'], percentageOfActors: 10 }),
        after: state({ actors: ['2', '3'], percentageOfActors: 25 }),
      }),
    ).toEqual(['actors: +3', 'actors: -1', 'percentageOfActors: 10 -> 25']);
    expect(describeChange({ before: state({ groups: ['staff'] }), after: state({ boolean: true }) })).toEqual(
      ['boolean: off -> on', 'groups: -staff'],
    );
    expect(
      describeChange({
        before: state({}),
        after: state({ expression: { Boolean: [true] }, percentageOfTime: 5 }),
      }),
    ).toEqual(['expression: none -> {"Boolean":[true]}', 'percentageOfTime: 0 -> 5']);
    expect(describeChange({ before: state({ boolean: true }), after: state({}, false) })).toEqual([
      'feature: removed',
      'boolean: on -> off',
    ]);
  });
});
