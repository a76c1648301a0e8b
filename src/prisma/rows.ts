import { defaultGates, sortedSet } from '../core/gates.js';
import type { GateKey, GateValues, JsonObject } from '../core/types.js';

/** Ruby Flipper's name for each gate, as stored in `flipper_gates.key`. */
export const ROW_KEYS: Readonly<Record<GateKey, string>> = Object.freeze({
  boolean: 'boolean',
  actors: 'actors',
  groups: 'groups',
  percentageOfActors: 'percentage_of_actors',
  percentageOfTime: 'percentage_of_time',
  expression: 'expression',
});

const GATE_BY_ROW_KEY: ReadonlyMap<string, GateKey> = new Map(
  (Object.entries(ROW_KEYS) as [GateKey, string][]).map(([gate, key]) => [key, gate]),
);

/** A gate row flagtrail could not make sense of; it reads as the gate's default. */
export interface InvalidGateRow {
  feature: string;
  /** The row's `key` column, e.g. `percentage_of_actors`. */
  gate: string;
  /** The row's `value` column as stored. */
  value: string | null;
  /** Why the row was not used, in words. */
  reason: string;
}

/** Receives each unusable gate row found while reading; reads never throw for bad rows. */
export type InvalidRowHandler = (row: InvalidGateRow) => void;

/** One `flipper_gates` row as read: its key and value columns. */
export interface GateRow {
  key: string;
  value: string | null;
}

// What Ruby Flipper writes for a percentage: Integer#to_s or Float#to_s ("25", "12.5", "25.0").
const PERCENTAGE = /^\d{1,3}(?:\.\d+)?$/;
// Ruby Flipper's Typecast.to_boolean truth table, for strings.
const TRUE_VALUES = new Set(['true', '1']);

function parsePercentage(value: string | null): number | string {
  if (value === null || !PERCENTAGE.test(value)) return 'not a number';
  const n = Number(value);
  if (n > 100) return 'above 100';
  // Flipper buckets actors in thousandths of a percent, so three decimals carry every difference.
  const rounded = Number(n.toFixed(3));
  return rounded === 0 ? 0 : rounded;
}

function parseExpression(value: string | null): JsonObject | string {
  if (value === null) return 'empty';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return 'not JSON';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'not a JSON object';
  return parsed as JsonObject;
}

/**
 * The gate values of one feature from its `flipper_gates` rows, read the way Ruby Flipper reads
 * them. Rows with an unknown key (a newer Flipper's gate, another tool's) are ignored; rows whose
 * value cannot be parsed are reported and read as the default. Never throws.
 */
export function gatesFromRows(
  feature: string,
  rows: readonly GateRow[],
  report: InvalidRowHandler,
): GateValues {
  const gates = defaultGates();
  const actors: string[] = [];
  const groups: string[] = [];
  const seen = new Set<GateKey>();
  for (const row of rows) {
    const gate = GATE_BY_ROW_KEY.get(row.key);
    if (gate === undefined) continue;
    const bad = (reason: string) => report({ feature, gate: row.key, value: row.value, reason });
    switch (gate) {
      case 'actors':
      case 'groups':
        if (row.value === null || row.value.length === 0) bad('empty set member');
        else (gate === 'actors' ? actors : groups).push(row.value);
        break;
      case 'boolean':
        if (row.value !== null && TRUE_VALUES.has(row.value)) gates.boolean = true;
        else bad('boolean gate value is not "true"');
        break;
      case 'percentageOfActors':
      case 'percentageOfTime': {
        // Flipper keeps one row per percentage; should a race leave two, the first one wins, as in Flipper.
        if (seen.has(gate)) break;
        seen.add(gate);
        const parsed = parsePercentage(row.value);
        if (typeof parsed === 'number') gates[gate] = parsed;
        else bad(`percentage is ${parsed}`);
        break;
      }
      case 'expression': {
        if (seen.has(gate)) break;
        seen.add(gate);
        const parsed = parseExpression(row.value);
        if (typeof parsed === 'string') bad(`expression is ${parsed}`);
        else gates.expression = parsed;
        break;
      }
    }
  }
  gates.actors = sortedSet(actors);
  gates.groups = sortedSet(groups);
  return gates;
}

/** Gate rows from a driver result, refusing anything that is not `{ key: string, value: string | null }`. */
export function toGateRows(result: unknown, keyField = 'key', valueField = 'value'): GateRow[] {
  if (!Array.isArray(result)) throw new TypeError('expected a list of rows');
  return result.map((row) => {
    const key = (row as Record<string, unknown>)[keyField];
    const value = (row as Record<string, unknown>)[valueField];
    if (typeof key !== 'string' || (value !== null && typeof value !== 'string')) {
      throw new TypeError('unexpected gate row shape');
    }
    return { key, value };
  });
}

/** The default reporter: one line on stderr per distinct bad row and adapter, not one per read. */
export function warnOnce(): InvalidRowHandler {
  const seen = new Set<string>();
  return (row) => {
    const id = JSON.stringify([row.feature, row.gate, row.value]);
    if (seen.has(id)) return;
    seen.add(id);
    process.stderr.write(
      `flagtrail: ignoring flipper_gates row of feature ${JSON.stringify(row.feature)} gate ${JSON.stringify(row.gate)} value ${JSON.stringify(row.value)}: ${row.reason}\n`,
    );
  };
}
