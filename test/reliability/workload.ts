// Shared by the reliability scenarios: a deterministic mix of flag writes, a runner that applies it
// with bounded concurrency and hooks at given write numbers, and the checks that prove an audit
// trail complete: every effective change has exactly one entry and each flag's entries chain.

import { withActor } from '../../src/core/actor-context.js';
import type { AuditedAdapter } from '../../src/core/audited-adapter.js';
import { defaultGates, statesEqual } from '../../src/core/gates.js';
import { readState } from '../../src/core/state.js';
import type {
  AuditEntry,
  AuditStore,
  FlagAdapter,
  FlagState,
  GateKey,
  GateValue,
} from '../../src/core/types.js';

export interface WriteOp {
  feature: string;
  kind: 'add' | 'remove' | 'clear' | 'enable' | 'disable';
  gate?: GateKey;
  value?: GateValue;
  actor: string;
}

/** A small seeded PRNG (mulberry32), so every run writes the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` writes over `features` flags: every operation and gate, some of them no-ops. */
export function mixedOps(
  count: number,
  features: number,
  seed = 42,
  options: { remove?: boolean } = {},
): WriteOp[] {
  const removes = options.remove ?? true;
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const ops: WriteOp[] = [];
  for (let i = 0; i < count; i++) {
    const feature = `flag-${Math.floor(rand() * features)}`;
    const actor = `user-${Math.floor(rand() * 50)}`;
    const r = rand();
    const member = `m${Math.floor(rand() * 12)}`;
    if (r < 0.03) ops.push({ feature, kind: removes ? 'remove' : 'clear', actor });
    else if (r < 0.06) ops.push({ feature, kind: 'clear', actor });
    else if (r < 0.08) ops.push({ feature, kind: 'add', actor });
    else if (r < 0.12) ops.push({ feature, kind: 'enable', gate: 'boolean', value: true, actor });
    else if (r < 0.15) ops.push({ feature, kind: 'disable', gate: 'boolean', value: false, actor });
    else if (r < 0.45) ops.push({ feature, kind: 'enable', gate: 'actors', value: member, actor });
    else if (r < 0.6) ops.push({ feature, kind: 'disable', gate: 'actors', value: member, actor });
    else if (r < 0.7)
      ops.push({ feature, kind: 'enable', gate: 'groups', value: pick(['admins', 'beta', 'staff']), actor });
    else if (r < 0.75)
      ops.push({ feature, kind: 'disable', gate: 'groups', value: pick(['admins', 'beta']), actor });
    else if (r < 0.85) {
      ops.push({
        feature,
        kind: 'enable',
        gate: 'percentageOfActors',
        value: Math.floor(rand() * 101),
        actor,
      });
    } else if (r < 0.92) {
      ops.push({
        feature,
        kind: 'enable',
        gate: 'percentageOfTime',
        value: Math.floor(rand() * 1000) / 10,
        actor,
      });
    } else if (r < 0.97) {
      ops.push({
        feature,
        kind: 'enable',
        gate: 'expression',
        value: { Equal: [{ Property: ['plan'] }, pick(['pro', 'free'])] },
        actor,
      });
    } else ops.push({ feature, kind: 'disable', gate: 'expression', value: {}, actor });
  }
  return ops;
}

/** Applies one op through `adapter` as `op.actor`. */
export function applyOp(adapter: FlagAdapter, op: WriteOp): Promise<void> {
  return withActor({ id: op.actor }, () => {
    switch (op.kind) {
      case 'add':
      case 'remove':
      case 'clear':
        return adapter[op.kind](op.feature);
      case 'enable':
      case 'disable':
        return adapter[op.kind](op.feature, op.gate!, op.value!);
    }
  });
}

export interface RunResult {
  /** Write number -> outcome. */
  outcomes: Array<'ok' | Error>;
  /** Entry ids of every effective change, as the trail reported them (subscribe). */
  effective: Map<string, AuditEntry>;
}

/**
 * Runs `ops` through `audited` with `concurrency` writers; `at(i)` runs before write `i` starts
 * (where a test cuts or restores a connection). Errors are collected, not thrown.
 */
export async function runOps(
  audited: AuditedAdapter,
  ops: WriteOp[],
  concurrency: number,
  at: (i: number) => void | Promise<void> = () => undefined,
): Promise<RunResult> {
  const outcomes: RunResult['outcomes'] = new Array(ops.length);
  const effective = new Map<string, AuditEntry>();
  const off = audited.subscribe(({ entry }) => {
    effective.set(entry.id, entry);
  });
  let next = 0;
  const worker = async () => {
    while (next < ops.length) {
      const i = next++;
      await at(i);
      try {
        await applyOp(audited, ops[i]!);
        outcomes[i] = 'ok';
      } catch (error) {
        outcomes[i] = error as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  off();
  return { outcomes, effective };
}

/** Every entry of a store, oldest first, through its public query API (keyset pages of 1000). */
export async function allEntries(store: AuditStore): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await store.query(before === undefined ? { limit: 1000 } : { limit: 1000, before });
    out.push(...page);
    if (page.length < 1000) break;
    before = page.at(-1)!.id;
  }
  return out.reverse();
}

export interface TrailCheck {
  entries: number;
  duplicated: number;
  /** Effective changes the trail reported whose entry is not in the store. */
  lost: string[];
  /** Entries in the store the run never reported (e.g. a commit whose reply was lost). */
  unreported: string[];
  /** Places where an entry's `before` is not the previous entry's `after` (or the initial state). */
  broken: Array<{ feature: string; id: string }>;
  /** Flags whose real final state differs from their last entry's `after`. */
  finalMismatch: string[];
}

const ABSENT: FlagState = { exists: false, gates: defaultGates() };

/**
 * Compares what a store holds with what the run reported and with the flags' real state. Each
 * flag's entries, in id order, must chain from "absent" to its final real state.
 */
export async function checkTrail(
  entries: AuditEntry[],
  effective: Map<string, AuditEntry>,
  flags: FlagAdapter,
  features: string[],
  initial: { exists: boolean } = { exists: false },
): Promise<TrailCheck> {
  const ids = new Set(entries.map((e) => e.id));
  const byFeature = new Map<string, AuditEntry[]>();
  for (const e of entries) {
    const list = byFeature.get(e.feature) ?? [];
    list.push(e);
    byFeature.set(e.feature, list);
  }
  const broken: TrailCheck['broken'] = [];
  const finalMismatch: string[] = [];
  for (const feature of features) {
    const chain = (byFeature.get(feature) ?? []).sort((a, b) => (a.id < b.id ? -1 : 1));
    let state: FlagState = initial.exists ? { exists: true, gates: defaultGates() } : ABSENT;
    for (const e of chain) {
      if (!statesEqual(e.before, state)) broken.push({ feature, id: e.id });
      state = e.after;
    }
    if (!statesEqual(await readState(flags, feature), state)) finalMismatch.push(feature);
  }
  return {
    entries: entries.length,
    duplicated: entries.length - ids.size,
    lost: [...effective.keys()].filter((id) => !ids.has(id)),
    unreported: [...ids].filter((id) => !effective.has(id)),
    broken,
    finalMismatch,
  };
}
