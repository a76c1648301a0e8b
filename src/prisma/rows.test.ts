import { describe, expect, it, vi } from 'vitest';
import { defaultGates } from '../core/gates.js';
import { type GateRow, gatesFromRows, type InvalidGateRow, toGateRows, warnOnce } from './rows.js';

const read = (rows: GateRow[]) => {
  const bad: InvalidGateRow[] = [];
  return { gates: gatesFromRows('f', rows, (r) => bad.push(r)), bad };
};

describe('gatesFromRows', () => {
  it("reads Ruby Flipper's rows", () => {
    const { gates, bad } = read([
      { key: 'boolean', value: 'true' },
      { key: 'actors', value: 'b' },
      { key: 'actors', value: 'a' },
      { key: 'actors', value: 'a' },
      { key: 'groups', value: 'admins' },
      { key: 'percentage_of_actors', value: '12.5' },
      { key: 'percentage_of_time', value: '100' },
      { key: 'expression', value: '{"Equal":[1,1]}' },
    ]);
    expect(gates).toEqual({
      boolean: true,
      actors: ['a', 'b'],
      groups: ['admins'],
      percentageOfActors: 12.5,
      percentageOfTime: 100,
      expression: { Equal: [1, 1] },
    });
    expect(bad).toEqual([]);
  });

  it('accepts the boolean values Flipper treats as true and reports the others', () => {
    expect(read([{ key: 'boolean', value: '1' }]).gates.boolean).toBe(true);
    const { gates, bad } = read([{ key: 'boolean', value: 'false' }]);
    expect(gates.boolean).toBe(false);
    expect(bad).toHaveLength(1);
  });

  it.each([
    ['abc', 'percentage is not a number'],
    ['-5', 'percentage is not a number'],
    ['1e2', 'percentage is not a number'],
    ['', 'percentage is not a number'],
    ['100.5', 'percentage is above 100'],
    [null, 'percentage is not a number'],
  ])('reads percentage %j as 0 and reports it', (value, reason) => {
    const { gates, bad } = read([{ key: 'percentage_of_actors', value }]);
    expect(gates.percentageOfActors).toBe(0);
    expect(bad).toEqual([{ feature: 'f', gate: 'percentage_of_actors', value, reason }]);
  });

  it('keeps three decimals, as Flipper buckets', () => {
    expect(read([{ key: 'percentage_of_time', value: '0.0004' }]).gates.percentageOfTime).toBe(0);
    expect(read([{ key: 'percentage_of_time', value: '99.9996' }]).gates.percentageOfTime).toBe(100);
  });

  it.each([['[1]'], ['"x"'], ['null'], ['{'], [null]])(
    'reads expression %j as null and reports it',
    (value) => {
      const { gates, bad } = read([{ key: 'expression', value }]);
      expect(gates.expression).toBeNull();
      expect(bad).toHaveLength(1);
    },
  );

  it('ignores rows of gates it does not know, silently', () => {
    const { gates, bad } = read([{ key: 'percentage_of_moon', value: '3' }]);
    expect(gates).toEqual(defaultGates());
    expect(bad).toEqual([]);
  });

  it('reports empty set members instead of storing them', () => {
    const { gates, bad } = read([
      { key: 'actors', value: '' },
      { key: 'groups', value: null },
    ]);
    expect(gates.actors).toEqual([]);
    expect(gates.groups).toEqual([]);
    expect(bad).toHaveLength(2);
  });
});

describe('toGateRows', () => {
  it('refuses rows of the wrong shape', () => {
    expect(() => toGateRows({})).toThrow(TypeError);
    expect(() => toGateRows([{ key: 1, value: 'x' }])).toThrow(TypeError);
    expect(toGateRows([{ k: 'actors', v: null }], 'k', 'v')).toEqual([{ key: 'actors', value: null }]);
  });
});

describe('warnOnce', () => {
  it('writes one stderr line per distinct row', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const warn = warnOnce();
      const row = {
        feature: 'f',
        gate: 'percentage_of_time',
        value: 'x',
        reason: 'percentage is not a number',
      };
      warn(row);
      warn({ ...row });
      warn({ ...row, value: 'y' });
      expect(write).toHaveBeenCalledTimes(2);
      expect(String(write.mock.calls[0]?.[0])).toMatch(
        /^flagtrail: .*"percentage_of_time".*"x".*not a number\n$/,
      );
    } finally {
      write.mockRestore();
    }
  });
});
