import jsonPatch from 'fast-json-patch';
import type { FlagState, JsonObject, JsonPatchOperation, JsonValue } from './types.js';

function membersAsKeys(members: string[]): JsonObject {
  // A prototype-less object: a member named "__proto__" stays an own key, and plain assignment is
  // several times faster than defineProperty on this hot path.
  const keyed = Object.create(null) as JsonObject;
  for (const member of members) keyed[member] = true;
  return keyed;
}

/**
 * The projection of a flag state that diffs are computed over: set members become object keys,
 * so a patch names the member that changed (`/gates/actors/42`) rather than an array index that
 * shifts with every insertion.
 */
export function keyedState(state: FlagState): JsonObject {
  const g = state.gates;
  return {
    exists: state.exists,
    gates: {
      boolean: g.boolean,
      actors: membersAsKeys(g.actors),
      groups: membersAsKeys(g.groups),
      percentageOfActors: g.percentageOfActors,
      percentageOfTime: g.percentageOfTime,
      expression: g.expression as JsonValue,
    },
  };
}

/**
 * The RFC 6902 patch that turns `keyedState(before)` into `keyedState(after)`; member keys in
 * paths are escaped per RFC 6901 (`~0` for `~`, `~1` for `/`).
 */
export function diffStates(before: FlagState, after: FlagState): JsonPatchOperation[] {
  return jsonPatch.compare(keyedState(before), keyedState(after)) as JsonPatchOperation[];
}

/** Reverses RFC 6901 escaping of one path segment. */
export function unescapePathSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
