import { defaultGates } from './gates.js';
import type { FlagAdapter, FlagState } from './types.js';

/**
 * A flag's state as the trail records it: the adapter's `state` when it has one, else `exists`
 * and `get` together; an adapter with neither `state` nor `exists` is asked for its feature list,
 * which costs a scan per write.
 */
export async function readState(adapter: FlagAdapter, feature: string): Promise<FlagState> {
  if (adapter.state) {
    const state = await adapter.state(feature);
    return state.exists ? state : { exists: false, gates: defaultGates() };
  }
  const [exists, gates] = await Promise.all([
    adapter.exists ? adapter.exists(feature) : adapter.features().then((all) => all.includes(feature)),
    adapter.get(feature),
  ]);
  return { exists, gates: exists ? gates : defaultGates() };
}

/**
 * Puts a flag back into `state` through the adapter's own writes: removed if it did not exist,
 * otherwise cleared and every open gate enabled again.
 */
export async function restoreState(adapter: FlagAdapter, feature: string, state: FlagState): Promise<void> {
  if (!state.exists) {
    await adapter.remove(feature);
    return;
  }
  await adapter.clear(feature);
  await adapter.add(feature);
  const g = state.gates;
  // Boolean first: enabling it clears every other gate.
  if (g.boolean) await adapter.enable(feature, 'boolean', true);
  for (const actor of g.actors) await adapter.enable(feature, 'actors', actor);
  for (const group of g.groups) await adapter.enable(feature, 'groups', group);
  if (g.percentageOfActors > 0) await adapter.enable(feature, 'percentageOfActors', g.percentageOfActors);
  if (g.percentageOfTime > 0) await adapter.enable(feature, 'percentageOfTime', g.percentageOfTime);
  if (g.expression !== null) await adapter.enable(feature, 'expression', g.expression);
}
