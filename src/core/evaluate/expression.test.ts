import { describe, expect, it } from 'vitest';
import { FlagTrailError } from '../errors.js';
import type { JsonObject } from '../types.js';
import { validateGateValue } from '../validate.js';
import {
  assertValidExpression,
  compiledForRead,
  compileExpression,
  type ExpressionScope,
} from './expression.js';
import { parseTime, rubyStringToFloat, rubyStringToInteger, rubyToString } from './values.js';

const NOW = new Date('2025-06-15T12:00:00Z');

function scope(
  properties: Record<string, unknown> = {},
  random = 0.5,
  feature = 'checkout',
): ExpressionScope {
  return {
    feature,
    property: (name) => (Object.hasOwn(properties, name) ? properties[name] : undefined),
    random: () => random,
    now: () => NOW,
  };
}

function run(expression: JsonObject, properties: Record<string, unknown> = {}, random = 0.5): boolean {
  return compileExpression(expression).evaluate(scope(properties, random));
}

const P = (name: string): JsonObject => ({ Property: [name] });

describe('expression evaluation (Flipper semantics)', () => {
  const cases: Array<[string, JsonObject, Record<string, unknown>, boolean]> = [
    ['Equal string match', { Equal: [P('plan'), 'pro'] }, { plan: 'pro' }, true],
    ['Equal string mismatch', { Equal: [P('plan'), 'pro'] }, { plan: 'free' }, false],
    ['Equal missing property', { Equal: [P('plan'), 'pro'] }, {}, false],
    ['Equal integer and float', { Equal: [P('n'), 1] }, { n: 1.0 }, true],
    ['Equal number vs numeric string is false (Ruby ==)', { Equal: [P('n'), '1'] }, { n: 1 }, false],
    ['Equal boolean', { Equal: [P('beta'), true] }, { beta: true }, true],
    [
      'Equal arrays compare deeply',
      { Equal: [P('a'), P('b')] },
      { a: [1, { x: 2 }], b: [1, { x: 2 }] },
      true,
    ],
    [
      'Equal times by instant',
      { Equal: [P('t'), { Time: ['2025-06-15T14:00:00+02:00'] }] },
      { t: NOW },
      true,
    ],
    ['NotEqual missing property is true', { NotEqual: [P('plan'), 'pro'] }, {}, true],
    ['NotEqual same', { NotEqual: [P('plan'), 'pro'] }, { plan: 'pro' }, false],
    ['GreaterThan numbers', { GreaterThan: [P('age'), 21] }, { age: 30 }, true],
    ['GreaterThan equal numbers', { GreaterThan: [P('age'), 21] }, { age: 21 }, false],
    ['GreaterThanOrEqualTo equal numbers', { GreaterThanOrEqualTo: [P('age'), 21] }, { age: 21 }, true],
    ['LessThan numbers', { LessThan: [P('age'), 21] }, { age: 20 }, true],
    ['LessThanOrEqualTo', { LessThanOrEqualTo: [P('age'), 21] }, { age: 22 }, false],
    ['GreaterThan strings compare by code point', { GreaterThan: [P('s'), 'b'] }, { s: 'c' }, true],
    ['string order follows UTF-8 bytes, not UTF-16', { GreaterThan: [P('s'), '\uffff'] }, { s: '😀' }, true],
    [
      'GreaterThan number vs string raises in Ruby: closed',
      { GreaterThan: [P('age'), 21] },
      { age: '25' },
      false,
    ],
    ['GreaterThan nil is false', { GreaterThan: [P('age'), 21] }, {}, false],
    ['GreaterThan boolean is false', { GreaterThan: [P('b'), 1] }, { b: true }, false],
    ['GreaterThan array is false', { GreaterThan: [P('a'), 1] }, { a: [2] }, false],
    ['Now after a past time', { GreaterThan: [{ Now: [] }, { Time: ['2025-01-01T00:00:00Z'] }] }, {}, true],
    ['Now before a future time', { LessThan: [{ Now: [] }, { Time: ['2025-06-15T12:00:01Z'] }] }, {}, true],
    [
      'Time from a property string',
      { GreaterThan: [{ Time: [P('signup')] }, { Time: ['2025-01-01'] }] },
      { signup: '2025-03-01T00:00:00Z' },
      true,
    ],
    [
      'Time from an unparseable property closes',
      { GreaterThan: [{ Time: [P('signup')] }, { Time: ['2025-01-01'] }] },
      { signup: 'soon' },
      false,
    ],
    [
      'Time from a Date property',
      { LessThan: [{ Time: [P('signup')] }, { Now: [] }] },
      { signup: new Date('2024-01-01') },
      true,
    ],
    ['Duration in days', { Equal: [{ Duration: [2, 'days'] }, 172_800] }, {}, true],
    [
      'Duration unit is case-insensitive and singular',
      { Equal: [{ Duration: [1, 'Month'] }, 2_629_746] },
      {},
      true,
    ],
    ['Duration defaults to seconds', { Equal: [{ Duration: [90] }, 90] }, {}, true],
    ['Duration of a year', { Equal: [{ Duration: [1, 'year'] }, 31_556_952] }, {}, true],
    ['Duration of a week', { Equal: [{ Duration: [1, 'weeks'] }, 604_800] }, {}, true],
    [
      'Duration of a non-number property closes',
      { GreaterThan: [{ Duration: [P('d'), 'hours'] }, 1] },
      { d: '3' },
      false,
    ],
    [
      'Duration with a bad unit from a property closes',
      { GreaterThan: [{ Duration: [1, P('u')] }, 0] },
      { u: 'fortnight' },
      false,
    ],
    ['Number casts strings like Ruby', { Equal: [{ Number: [P('n')] }, 12] }, { n: '12abc' }, true],
    ['Number casts decimals with to_f', { Equal: [{ Number: [P('n')] }, 1.5] }, { n: '1.5' }, true],
    ['Number of nil is 0', { Equal: [{ Number: [P('n')] }, 0] }, {}, true],
    ['Number of a boolean raises: closed', { Equal: [{ Number: [P('n')] }, 1] }, { n: true }, false],
    ['String of a number', { Equal: [{ String: [P('n')] }, '42'] }, { n: 42 }, true],
    ['String of nil is empty', { Equal: [{ String: [P('n')] }, ''] }, {}, true],
    ['Boolean of "true"', { Boolean: [P('b')] }, { b: 'true' }, true],
    ['Boolean of 1', { Boolean: [P('b')] }, { b: 1 }, true],
    ['Boolean of "yes" is false', { Boolean: [P('b')] }, { b: 'yes' }, false],
    ['Any with one true', { Any: [{ Equal: [P('a'), 1] }, { Equal: [P('b'), 2] }] }, { b: 2 }, true],
    ['Any of nothing is false', { Any: [] }, {}, false],
    ['All with one false', { All: [{ Equal: [P('a'), 1] }, { Equal: [P('b'), 2] }] }, { a: 1 }, false],
    ['All of nothing is true', { All: [] }, {}, true],
    ['All with every true', { All: [{ Equal: [P('a'), 1] }, { Equal: [P('b'), 2] }] }, { a: 1, b: 2 }, true],
    [
      'Any: an error in any argument closes the gate, as Ruby raises',
      { Any: [true, { GreaterThan: [P('x'), 1] }] },
      { x: 'a' },
      false,
    ],
    ['a bare Property is Ruby-truthy', P('beta'), { beta: 0 }, true],
    ['a bare Property false', P('beta'), { beta: false }, false],
    ['a bare Property missing', P('beta'), {}, false],
    ['lone argument shorthand (Array(args))', { Property: 'plan' }, { plan: 'x' }, true],
    ['Percentage clamps', { Equal: [{ Percentage: [150] }, 100] }, {}, true],
    ['Percentage clamps below', { Equal: [{ Percentage: [-5] }, 0] }, {}, true],
    [
      'PercentageOfActors in bucket (checkout + 42 -> 4462)',
      { PercentageOfActors: [P('flipper_id'), 5] },
      { flipper_id: '42' },
      true,
    ],
    [
      'PercentageOfActors out of bucket',
      { PercentageOfActors: [P('flipper_id'), 4] },
      { flipper_id: '42' },
      false,
    ],
    [
      'PercentageOfActors with a Percentage',
      { PercentageOfActors: [P('flipper_id'), { Percentage: [5] }] },
      { flipper_id: '42' },
      true,
    ],
    [
      'PercentageOfActors with a non-number percentage closes',
      { PercentageOfActors: [P('id'), P('p')] },
      { id: '42', p: '50' },
      false,
    ],
  ];

  it.each(cases)('%s', (_label, expression, properties, expected) => {
    expect(() => assertValidExpression(expression)).not.toThrow();
    expect(run(expression, properties)).toBe(expected);
  });

  it('Random follows Kernel#rand: a float below 1, an integer in [0, |max|) otherwise', () => {
    expect(run({ LessThan: [{ Random: [] }, 0.25] }, {}, 0.2)).toBe(true);
    expect(run({ LessThan: [{ Random: [] }, 0.25] }, {}, 0.3)).toBe(false);
    expect(run({ Equal: [{ Random: [100] }, 99] }, {}, 0.999)).toBe(true);
    expect(run({ Equal: [{ Random: [-3] }, 1] }, {}, 0.5)).toBe(true);
    expect(run({ Equal: [{ Random: [1.5] }, 0] }, {}, 0.9)).toBe(true);
    expect(run({ Equal: [{ Random: [0.5] }, 0.9] }, {}, 0.9)).toBe(true);
  });

  it('Now comes from the injected clock', () => {
    expect(run({ Equal: [{ Now: [] }, { Time: ['2025-06-15T12:00:00Z'] }] })).toBe(true);
  });
});

describe('assertValidExpression', () => {
  const invalid: Array<[string, unknown, RegExp]> = [
    ['unknown operator', { Foo: [] }, /expression: unknown operator "Foo"/],
    ['operator from a newer Flipper', { FeatureEnabled: ['x'] }, /unknown operator "FeatureEnabled"/],
    ['prototype key as operator', JSON.parse('{"__proto__": []}'), /unknown operator "__proto__"/],
    ['two keys', { Equal: [1, 1], Any: [] }, /exactly one key.*got 2/],
    ['no key', {}, /exactly one key.*got 0/],
    ['Equal with one argument', { Equal: [1] }, /expression\.Equal: takes 2 arguments, got 1/],
    ['Equal with three arguments', { Equal: [1, 2, 3] }, /takes 2 arguments, got 3/],
    ['Now with an argument', { Equal: [{ Now: [1] }, 1] }, /Now: takes 0 arguments, got 1/],
    ['Property without arguments', { Property: [] }, /Property: takes 1 argument, got 0/],
    ['Property with a number name', { Property: [1] }, /Property\[0\]: expected a string, got 1/],
    [
      'Duration with three arguments',
      { Equal: [{ Duration: [1, 'day', 2] }, 1] },
      /Duration: takes 1 to 2 arguments, got 3/,
    ],
    [
      'Duration with a string value',
      { Equal: [{ Duration: ['1', 'day'] }, 1] },
      /Duration\[0\]: expected a number, got "1"/,
    ],
    [
      'Duration with an unknown unit',
      { Equal: [{ Duration: [1, 'fortnight'] }, 1] },
      /Duration\[1\]: expected a unit/,
    ],
    [
      'Time that does not parse',
      { Equal: [{ Time: ['next tuesday'] }, 1] },
      /Time\[0\]: expected an ISO 8601 time/,
    ],
    ['Time on February 30th', { Equal: [{ Time: ['2023-02-30'] }, 1] }, /Time\[0\]/],
    [
      'Time from a number',
      { Equal: [{ Time: [1700000000] }, 1] },
      /Time\[0\]: expected an ISO 8601 time string, got 1700000000/,
    ],
    ['Random with a string', { Equal: [{ Random: ['5'] }, 1] }, /Random\[0\]: expected a number/],
    [
      'Random with two arguments',
      { Equal: [{ Random: [1, 2] }, 1] },
      /Random: takes 0 to 1 arguments, got 2/,
    ],
    ['Percentage of a string', { Equal: [{ Percentage: ['50'] }, 1] }, /Percentage\[0\]: expected a number/],
    [
      'PercentageOfActors with a number id',
      { PercentageOfActors: [42, 50] },
      /PercentageOfActors\[0\]: expected a string/,
    ],
    [
      'PercentageOfActors with a string percentage',
      { PercentageOfActors: [P('id'), '50'] },
      /PercentageOfActors\[1\]: expected a number/,
    ],
    [
      'Number of a boolean',
      { Equal: [{ Number: [true] }, 1] },
      /Number\[0\]: expected a number, string or time, got true/,
    ],
    [
      'comparing a time with a number',
      { GreaterThan: [{ Now: [] }, 5] },
      /GreaterThan: cannot compare an expression giving time with 5/,
    ],
    ['comparing a string with a number', { LessThan: ['a', 5] }, /LessThan: cannot compare "a" with 5/],
    [
      'ordering booleans',
      { GreaterThan: [true, P('x')] },
      /GreaterThan\[0\]: expected a number, string or time, got true/,
    ],
    ['null constant', { Equal: [P('x'), null] }, /Equal\[1\]: null is not an expression/],
    ['nested array', { Any: [[true]] }, /Any\[0\]: an array is not an expression/],
    [
      'deep path in the message',
      { All: [{ Any: [{ Equal: [1] }] }] },
      /expression\.All\[0\]\.Any\[0\]\.Equal: takes 2 arguments/,
    ],
  ];

  it.each(invalid)('%s', (_label, expression, message) => {
    let caught: unknown;
    try {
      assertValidExpression(expression as JsonObject);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlagTrailError);
    expect((caught as FlagTrailError).code).toBe('INVALID_EXPRESSION');
    expect((caught as FlagTrailError).message).toMatch(message);
  });

  it('a root that is not an object is refused', () => {
    for (const bad of [null, 'x', 1, [1]]) {
      expect(() => assertValidExpression(bad as unknown as JsonObject)).toThrow(FlagTrailError);
    }
  });

  it('is what validateGateValue runs when an expression is written', () => {
    expect(() => validateGateValue('enable', 'expression', { Foo: [] })).toThrow(/unknown operator "Foo"/);
    expect(validateGateValue('enable', 'expression', { Equal: [P('plan'), 'pro'] })).toEqual({
      Equal: [P('plan'), 'pro'],
    });
    // Disabling clears the gate whatever it held.
    expect(validateGateValue('disable', 'expression', null)).toEqual({});
  });

  it('accepts a Flipper-written expression with every supported operator', () => {
    const expression: JsonObject = {
      Any: [
        { All: [{ Boolean: [P('beta')] }, { NotEqual: [{ String: [P('plan')] }, 'free'] }] },
        { GreaterThanOrEqualTo: [{ Now: [] }, { Time: ['2025-01-01T00:00:00Z'] }] },
        { LessThanOrEqualTo: [{ Number: [P('age')] }, { Duration: [1, 'hour'] }] },
        { LessThan: [{ Random: [100] }, { Percentage: [10] }] },
        { GreaterThan: [P('score'), 5] },
        { Equal: [P('x'), 1] },
        { PercentageOfActors: [P('flipper_id'), 25] },
      ],
    };
    expect(() => assertValidExpression(expression)).not.toThrow();
  });
});

describe('compiledForRead', () => {
  it('never throws for a malformed stored expression and never opens it', () => {
    const bad = { Foo: [] } as JsonObject;
    const compiled = compiledForRead(bad);
    expect(compiled.evaluate(scope())).toBe(false);
    expect(compiledForRead(bad)).toBe(compiled);
  });
});

describe('Ruby value helpers', () => {
  it('String#to_i and String#to_f', () => {
    expect(rubyStringToInteger(' 12abc')).toBe(12);
    expect(rubyStringToInteger('1_000')).toBe(1000);
    expect(rubyStringToInteger('1__0')).toBe(1);
    expect(rubyStringToInteger('-5x')).toBe(-5);
    expect(rubyStringToInteger('1e3')).toBe(1);
    expect(rubyStringToInteger('abc')).toBe(0);
    expect(rubyStringToFloat('1.5e3')).toBe(1500);
    expect(rubyStringToFloat('.5')).toBe(0.5);
    expect(rubyStringToFloat('1.')).toBe(1);
    expect(rubyStringToFloat('  -2.5e-2x')).toBe(-0.025);
    expect(rubyStringToFloat('1_0.5')).toBe(10.5);
    expect(rubyStringToFloat('1e')).toBe(1);
    expect(rubyStringToFloat('abc')).toBe(0);
  });

  it('to_s', () => {
    expect(rubyToString(1.5e-5)).toBe('1.5e-05');
    expect(rubyToString(0.0001)).toBe('0.0001');
    expect(rubyToString(123456789.123)).toBe('123456789.123');
    expect(rubyToString(1e20)).toBe('100000000000000000000');
    expect(rubyToString(-0)).toBe('0');
    expect(rubyToString(null)).toBe('');
    expect(rubyToString(false)).toBe('false');
    expect(rubyToString(new Date('2025-01-02T03:04:05Z'))).toBe('2025-01-02 03:04:05 UTC');
  });

  it('parseTime reads ISO 8601 with zones, and a zone-less time as UTC', () => {
    expect(parseTime('2025-01-02')?.toISOString()).toBe('2025-01-02T00:00:00.000Z');
    expect(parseTime('2025-01-02T03:04')?.toISOString()).toBe('2025-01-02T03:04:00.000Z');
    expect(parseTime('2025-01-02 03:04:05.678')?.toISOString()).toBe('2025-01-02T03:04:05.678Z');
    expect(parseTime('2025-01-02T03:04:05-0530')?.toISOString()).toBe('2025-01-02T08:34:05.000Z');
    expect(parseTime('2025-01-02T03:04:05+01')?.toISOString()).toBe('2025-01-02T02:04:05.000Z');
    expect(parseTime('2025-13-01')).toBeUndefined();
    expect(parseTime('2025-01-02T24:00')).toBeUndefined();
    expect(parseTime('yesterday')).toBeUndefined();
  });
});
