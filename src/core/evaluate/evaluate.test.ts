import { describe, expect, it } from 'vitest';
import { FlagTrailError } from '../errors.js';
import { defaultGates } from '../gates.js';
import type { GateValues } from '../types.js';
import { type EvaluationInput, evaluateFlag, isConfiguredOff } from './index.js';

function gates(overrides: Partial<GateValues>): GateValues {
  return { ...defaultGates(), ...overrides };
}

describe('evaluateFlag', () => {
  it('is off with default gates and names no gate', () => {
    expect(evaluateFlag('f', defaultGates(), { targetingKey: '1' })).toEqual({ enabled: false, gate: null });
    expect(isConfiguredOff(defaultGates())).toBe(true);
  });

  it('opens the boolean gate for everyone, with or without a context', () => {
    expect(evaluateFlag('f', gates({ boolean: true }))).toEqual({ enabled: true, gate: 'boolean' });
    expect(evaluateFlag('f', gates({ boolean: true }), {})).toEqual({ enabled: true, gate: 'boolean' });
  });

  it('opens the actors gate only for a listed targetingKey', () => {
    const g = gates({ actors: ['1', '42'] });
    expect(evaluateFlag('f', g, { targetingKey: '42' }).gate).toBe('actors');
    expect(evaluateFlag('f', g, { targetingKey: '43' }).enabled).toBe(false);
    expect(evaluateFlag('f', g, { targetingKey: '' }).enabled).toBe(false);
    expect(evaluateFlag('f', g, {}).enabled).toBe(false);
  });

  it('looks up large actor lists correctly', () => {
    const actors = Array.from({ length: 500 }, (_, i) => `user-${i}`).sort();
    const g = gates({ actors });
    expect(evaluateFlag('f', g, { targetingKey: 'user-499' }).gate).toBe('actors');
    expect(evaluateFlag('f', g, { targetingKey: 'user-500' }).enabled).toBe(false);
  });

  it('percentage of actors: 0 never, 100 always, needs a targetingKey', () => {
    expect(evaluateFlag('f', gates({ percentageOfActors: 0 }), { targetingKey: '1' }).enabled).toBe(false);
    expect(evaluateFlag('f', gates({ percentageOfActors: 100 }), { targetingKey: '1' }).gate).toBe(
      'percentageOfActors',
    );
    expect(evaluateFlag('f', gates({ percentageOfActors: 100 }), {}).enabled).toBe(false);
  });

  it('percentage of time compares the injected random number with pct / 100', () => {
    const g = gates({ percentageOfTime: 25 });
    expect(evaluateFlag('f', g, {}, { random: () => 0.2499 }).gate).toBe('percentageOfTime');
    expect(evaluateFlag('f', g, {}, { random: () => 0.25 }).enabled).toBe(false);
    expect(evaluateFlag('f', gates({ percentageOfTime: 0 }), {}, { random: () => 0 }).enabled).toBe(false);
  });

  it('groups: a registered predicate returning exactly true opens; anything else stays closed', () => {
    const context: EvaluationInput = { targetingKey: '1', role: 'admin' };
    const g = gates({ groups: ['admins', 'async', 'broken', 'truthy', 'unregistered'] });
    const groups = {
      admins: (c: EvaluationInput) => c.role === 'admin',
      async: (() => Promise.resolve(true)) as unknown as () => boolean,
      broken: () => {
        throw new Error('boom');
      },
      truthy: (() => 'yes') as unknown as () => boolean,
    };
    expect(evaluateFlag('f', g, context, { groups }).gate).toBe('groups');
    expect(evaluateFlag('f', g, { role: 'user' }, { groups }).enabled).toBe(false);
    expect(evaluateFlag('f', gates({ groups: ['unregistered'] }), context, { groups }).enabled).toBe(false);
    expect(evaluateFlag('f', gates({ groups: ['admins'] }), context).enabled).toBe(false);
  });

  it('groups named like Object.prototype members are never looked up on the prototype', () => {
    const g = gates({ groups: ['constructor', 'toString', '__proto__'] });
    expect(evaluateFlag('f', g, { targetingKey: '1' }, { groups: {} }).enabled).toBe(false);
  });

  it('expression: reads context properties, flipper_id is the targetingKey', () => {
    const g = gates({ expression: { Equal: [{ Property: ['flipper_id'] }, '42'] } });
    expect(evaluateFlag('f', g, { targetingKey: '42' }).gate).toBe('expression');
    expect(evaluateFlag('f', g, { targetingKey: '43' }).enabled).toBe(false);
    // An explicit flipper_id property wins, as the actor's own properties do in Flipper.
    expect(evaluateFlag('f', g, { targetingKey: '43', flipper_id: '42' }).enabled).toBe(true);
  });

  it('expression: a stored expression that is malformed or raises never opens and never throws', () => {
    const malformed = gates({ expression: { Foo: [1] } });
    expect(evaluateFlag('f', malformed, { targetingKey: '1' })).toEqual({ enabled: false, gate: null });
    const raising = gates({ expression: { GreaterThan: [{ Property: ['age'] }, 18] } });
    expect(evaluateFlag('f', raising, { age: 'twenty' })).toEqual({ enabled: false, gate: null });
    expect(evaluateFlag('f', raising, { age: 30 }).gate).toBe('expression');
    expect(evaluateFlag('f', gates({ expression: {} }), {}).enabled).toBe(false);
  });

  it('expression: Now reads the injected clock', () => {
    const g = gates({
      expression: { GreaterThanOrEqualTo: [{ Now: [] }, { Time: ['2030-01-01T00:00:00Z'] }] },
    });
    expect(evaluateFlag('f', g, {}, { now: () => new Date('2029-12-31T23:59:59Z') }).enabled).toBe(false);
    expect(evaluateFlag('f', g, {}, { now: () => new Date('2030-01-01T00:00:00Z') }).gate).toBe('expression');
  });

  it("checks gates in Flipper's order and names the first that opens", () => {
    const all = gates({
      boolean: true,
      expression: { Boolean: [true] },
      actors: ['1'],
      percentageOfActors: 100,
      percentageOfTime: 100,
      groups: ['everyone'],
    });
    const options = { groups: { everyone: () => true }, random: () => 0 };
    const context = { targetingKey: '1' };
    const order = [
      'boolean',
      'expression',
      'actors',
      'percentageOfActors',
      'percentageOfTime',
      'groups',
    ] as const;
    let current: GateValues = all;
    for (const gate of order) {
      expect(evaluateFlag('f', current, context, options).gate).toBe(gate);
      current = { ...current, ...closed(gate) };
    }
    expect(evaluateFlag('f', current, context, options)).toEqual({ enabled: false, gate: null });
  });

  it('refuses a non-string feature or missing gates with a typed error', () => {
    expect(() => evaluateFlag(1 as unknown as string, defaultGates())).toThrow(FlagTrailError);
    expect(() => evaluateFlag('f', null as unknown as GateValues)).toThrow(
      /gates must be a GateValues object/,
    );
  });

  it('isConfiguredOff is false as soon as any gate holds something', () => {
    expect(isConfiguredOff(gates({ actors: ['1'] }))).toBe(false);
    expect(isConfiguredOff(gates({ expression: { Boolean: [true] } }))).toBe(false);
    expect(isConfiguredOff(gates({ expression: {} }))).toBe(true);
  });
});

function closed(gate: keyof GateValues): Partial<GateValues> {
  switch (gate) {
    case 'boolean':
      return { boolean: false };
    case 'expression':
      return { expression: null };
    case 'actors':
      return { actors: [] };
    case 'percentageOfActors':
      return { percentageOfActors: 0 };
    case 'percentageOfTime':
      return { percentageOfTime: 0 };
    case 'groups':
      return { groups: [] };
  }
}
