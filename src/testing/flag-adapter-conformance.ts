import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isFlagTrailError } from '../core/errors.js';
import { defaultGates } from '../core/gates.js';
import type { FlagAdapter, GateKey, GateValues, JsonObject } from '../core/types.js';

/** How a backend plugs into a conformance suite. */
export interface ConformanceOptions<T> {
  /** Builds the subject once per suite. */
  create: () => T | Promise<T>;
  /** Empties the backend before each test. Required unless `create` returns a fresh, empty subject each time it is called (then it is called before every test). */
  reset?: () => void | Promise<void>;
  /** Called once after the suite, e.g. to close a client. */
  teardown?: () => void | Promise<void>;
  /** Tests to switch off, by name, each with the written reason why this backend cannot pass it. */
  skip?: Record<string, string>;
}

/** Builds the subject and resets it around each test, per the options. */
export function useSubject<T>(options: ConformanceOptions<T>): () => T {
  let subject: T | undefined;
  if (options.reset) {
    beforeAll(async () => {
      subject = await options.create();
    });
    beforeEach(async () => {
      await options.reset?.();
    });
  } else {
    beforeEach(async () => {
      subject = await options.create();
    });
  }
  afterAll(async () => {
    await options.teardown?.();
  });
  return () => {
    if (subject === undefined) throw new Error('conformance subject was not created');
    return subject;
  };
}

/** `it`, or `it.skip` with the reason in the title when the backend switched the test off. */
export function conformanceTest(skip: Record<string, string> | undefined) {
  for (const [name, reason] of Object.entries(skip ?? {})) {
    if (typeof reason !== 'string' || reason.trim().length === 0) {
      throw new Error(`conformance: switching off "${name}" needs a written reason`);
    }
  }
  const declared = new Set<string>();
  const test = (name: string, fn: () => Promise<void>) => {
    declared.add(name);
    const reason = skip?.[name];
    if (reason) it.skip(`${name} (switched off: ${reason})`, fn);
    else it(name, fn);
  };
  // A misspelt name would switch nothing off and hide the mistake; the suite calls this last.
  test.checkSkips = () => {
    for (const name of Object.keys(skip ?? {})) {
      if (!declared.has(name)) throw new Error(`conformance: no test named "${name}" to switch off`);
    }
  };
  return test;
}

async function expectRejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, `expected a FlagTrailError ${code}`).toBeDefined();
  expect(isFlagTrailError(error), `expected a FlagTrailError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

function gates(overrides: Partial<GateValues>): GateValues {
  return { ...defaultGates(), ...overrides };
}

/**
 * The behaviour every `FlagAdapter` must have: Flipper's write semantics, defaults for unknown
 * flags, set ordering, special characters in keys and members, concurrent writes, and refusal of
 * bad input without any change. Call it at the top level of a vitest file.
 *
 * @example
 * ```ts
 * flagAdapterConformance('memory', { create: () => new MemoryFlagAdapter() });
 * ```
 */
export function flagAdapterConformance(label: string, options: ConformanceOptions<FlagAdapter>): void {
  describe(`FlagAdapter conformance: ${label}`, () => {
    const adapter = useSubject(options);
    const test = conformanceTest(options.skip);

    test('has a non-empty name', async () => {
      expect(typeof adapter().name).toBe('string');
      expect(adapter().name.length).toBeGreaterThan(0);
    });

    test('an unknown feature reads as defaults and does not exist', async () => {
      const a = adapter();
      expect(await a.get('nope')).toEqual(defaultGates());
      expect(await a.features()).not.toContain('nope');
      if (a.exists) expect(await a.exists('nope')).toBe(false);
    });

    test('add registers a feature without opening a gate, and is idempotent', async () => {
      const a = adapter();
      await a.add('search');
      await a.add('search');
      expect((await a.features()).filter((f) => f === 'search')).toEqual(['search']);
      expect(await a.get('search')).toEqual(defaultGates());
      if (a.exists) expect(await a.exists('search')).toBe(true);
    });

    test('enable and disable add a missing feature', async () => {
      const a = adapter();
      await a.enable('fresh', 'actors', '1');
      await a.disable('other', 'actors', '1');
      expect(new Set(await a.features())).toEqual(new Set(['fresh', 'other']));
    });

    test('boolean enable clears every other gate; disable clears all', async () => {
      const a = adapter();
      await a.enable('f', 'actors', '1');
      await a.enable('f', 'groups', 'admins');
      await a.enable('f', 'percentageOfActors', 25);
      await a.enable('f', 'boolean', true);
      expect(await a.get('f')).toEqual(gates({ boolean: true }));
      await a.enable('f', 'actors', '2');
      await a.disable('f', 'boolean', false);
      expect(await a.get('f')).toEqual(defaultGates());
      expect(await a.features()).toContain('f');
    });

    test('actors and groups are sorted sets without duplicates', async () => {
      const a = adapter();
      for (const id of ['b', 'a', 'c', 'a']) await a.enable('f', 'actors', id);
      for (const name of ['staff', 'admins', 'staff']) await a.enable('f', 'groups', name);
      const g = await a.get('f');
      expect(g.actors).toEqual(['a', 'b', 'c']);
      expect(g.groups).toEqual(['admins', 'staff']);
      await a.disable('f', 'actors', 'b');
      await a.disable('f', 'actors', 'missing');
      await a.disable('f', 'groups', 'admins');
      expect(await a.get('f')).toEqual(gates({ actors: ['a', 'c'], groups: ['staff'] }));
    });

    test('percentages are set, replaced and reset to 0 by disable, keeping three decimals', async () => {
      const a = adapter();
      await a.enable('f', 'percentageOfActors', 10);
      await a.enable('f', 'percentageOfActors', 12.345);
      await a.enable('f', 'percentageOfTime', 100);
      expect(await a.get('f')).toEqual(gates({ percentageOfActors: 12.345, percentageOfTime: 100 }));
      await a.disable('f', 'percentageOfActors', 0);
      await a.disable('f', 'percentageOfTime', 50);
      expect(await a.get('f')).toEqual(defaultGates());
    });

    test('an expression is stored as JSON and cleared by disable', async () => {
      const a = adapter();
      const expression: JsonObject = {
        All: [{ Equal: [{ Property: ['plan'] }, 'pro'] }, { GreaterThan: [{ Property: ['age'] }, 18.5] }],
      };
      await a.enable('f', 'expression', expression);
      expect((await a.get('f')).expression).toEqual(expression);
      await a.disable('f', 'expression', expression);
      expect((await a.get('f')).expression).toBeNull();
    });

    test('clear resets every gate and keeps the feature; a missing feature is not an error', async () => {
      const a = adapter();
      await a.enable('f', 'actors', '1');
      await a.enable('f', 'percentageOfTime', 5);
      await a.clear('f');
      expect(await a.get('f')).toEqual(defaultGates());
      expect(await a.features()).toContain('f');
      await a.clear('never-added');
      expect(await a.features()).not.toContain('never-added');
    });

    test('remove deletes the feature and its gates; a re-added feature starts from defaults', async () => {
      const a = adapter();
      await a.enable('f', 'actors', '1');
      await a.remove('f');
      expect(await a.features()).not.toContain('f');
      expect(await a.get('f')).toEqual(defaultGates());
      await a.add('f');
      expect(await a.get('f')).toEqual(defaultGates());
      await a.remove('never-added');
    });

    test('getMulti returns every requested key, defaults for unknown ones', async () => {
      const a = adapter();
      await a.enable('one', 'actors', '1');
      const multi = await a.getMulti(['one', 'two']);
      expect(multi).toEqual({ one: gates({ actors: ['1'] }), two: defaultGates() });
      expect(await a.getMulti([])).toEqual({});
    });

    test('getAll returns every feature with its gates', async () => {
      const a = adapter();
      await a.enable('one', 'boolean', true);
      await a.add('two');
      await a.enable('three', 'groups', 'admins');
      expect(await a.getAll()).toEqual({
        one: gates({ boolean: true }),
        two: defaultGates(),
        three: gates({ groups: ['admins'] }),
      });
    });

    test('keys and members with special characters round-trip intact', async () => {
      const a = adapter();
      const feature = 'a.b$c/d~e f:ü—🚀';
      const members = ['User;42', '$ne', 'a.b', '~/0', 'ünï', '__proto__', 'constructor', ' spaced '];
      for (const m of members) await a.enable(feature, 'actors', m);
      await a.enable(feature, 'groups', '$where');
      expect(await a.features()).toContain(feature);
      const g = await a.get(feature);
      expect(g.actors).toEqual([...members].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      expect(g.groups).toEqual(['$where']);
      expect(Object.keys(await a.getAll())).toContain(feature);
    });

    test('values read back are copies: mutating them changes nothing stored', async () => {
      const a = adapter();
      await a.enable('f', 'actors', '1');
      const g = await a.get('f');
      g.actors.push('evil');
      g.boolean = true;
      expect(await a.get('f')).toEqual(gates({ actors: ['1'] }));
    });

    test('concurrent writes to one feature all land', async () => {
      const a = adapter();
      const ids = Array.from({ length: 40 }, (_, i) => `actor-${String(i).padStart(2, '0')}`);
      await Promise.all(ids.map((id) => a.enable('busy', 'actors', id)));
      expect((await a.get('busy')).actors).toEqual(ids);
      await Promise.all([a.add('busy'), a.add('busy'), a.add('new'), a.add('new')]);
      expect((await a.features()).filter((f) => f === 'new')).toHaveLength(1);
    });

    test('bad input is refused with a typed error and changes nothing', async () => {
      const a = adapter();
      await a.enable('f', 'actors', '1');
      const before = await a.getAll();
      const bad: Array<[Promise<unknown>, string]> = [
        [a.add(''), 'INVALID_FEATURE'],
        [a.add(42 as unknown as string), 'INVALID_FEATURE'],
        [a.add({ $ne: null } as unknown as string), 'INVALID_FEATURE'],
        [a.enable('f', 'nope' as GateKey, true), 'INVALID_GATE'],
        [a.enable('f', 'actors', ''), 'INVALID_VALUE'],
        [a.enable('f', 'groups', 7 as unknown as string), 'INVALID_VALUE'],
        [a.enable('f', 'percentageOfActors', 150), 'INVALID_VALUE'],
        [a.enable('f', 'percentageOfActors', -1), 'INVALID_VALUE'],
        [a.enable('f', 'percentageOfTime', Number.NaN), 'INVALID_VALUE'],
        [a.enable('f', 'percentageOfTime', 1.2345), 'INVALID_VALUE'],
        [a.enable('f', 'percentageOfTime', '25' as unknown as number), 'INVALID_VALUE'],
        [a.enable('f', 'expression', ['not', 'an', 'object'] as unknown as { x: 1 }), 'INVALID_EXPRESSION'],
        [a.enable('f', 'boolean', 'yes' as unknown as boolean), 'INVALID_VALUE'],
        [a.enable('other', 'actors', ''), 'INVALID_VALUE'],
      ];
      for (const [promise, code] of bad) await expectRejectsWith(promise, code);
      expect(await a.getAll()).toEqual(before);
    });

    test.checkSkips();
  });
}
