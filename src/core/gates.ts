import type { FlagState, GateValues, JsonObject, JsonValue } from './types.js';

/** The gates of a flag nobody has touched: everything closed. */
export function defaultGates(): GateValues {
  return {
    boolean: false,
    actors: [],
    groups: [],
    percentageOfActors: 0,
    percentageOfTime: 0,
    expression: null,
  };
}

/** A set as the contract wants it: sorted by code unit, no duplicates. */
export function sortedSet(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareCodeUnits);
}

/** Plain code-unit order, the same in every store and locale. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when the gates are in their default state. */
export function isDefaultGates(gates: GateValues): boolean {
  return (
    !gates.boolean &&
    gates.actors.length === 0 &&
    gates.groups.length === 0 &&
    gates.percentageOfActors === 0 &&
    gates.percentageOfTime === 0 &&
    gates.expression === null
  );
}

/** Deep equality of JSON values (object key order ignored). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  for (const k of ak) {
    if (!Object.hasOwn(b, k) || !jsonEqual((a as JsonObject)[k], (b as JsonObject)[k])) return false;
  }
  return true;
}

function setsEqual(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality of two gate values (sets compared as the sorted arrays they are). */
export function gatesEqual(a: GateValues, b: GateValues): boolean {
  return (
    a.boolean === b.boolean &&
    a.percentageOfActors === b.percentageOfActors &&
    a.percentageOfTime === b.percentageOfTime &&
    setsEqual(a.actors, b.actors) &&
    setsEqual(a.groups, b.groups) &&
    jsonEqual(a.expression, b.expression)
  );
}

/** Equality of two flag states; the decorator drops a write whose before equals its after. */
export function statesEqual(a: FlagState, b: FlagState): boolean {
  return a.exists === b.exists && gatesEqual(a.gates, b.gates);
}

/** A deep copy, so a caller mutating what it got back cannot change an adapter's state. */
export function cloneGates(gates: GateValues): GateValues {
  return {
    boolean: gates.boolean,
    actors: [...gates.actors],
    groups: [...gates.groups],
    percentageOfActors: gates.percentageOfActors,
    percentageOfTime: gates.percentageOfTime,
    expression: gates.expression === null ? null : (structuredClone(gates.expression) as JsonObject),
  };
}
