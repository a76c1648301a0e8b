// Deterministic synthetic audit entries for the history cases: a year of actor-gate changes over
// `features` flags by `actors` people, generated in batches for bulk inserts.
import { diffStates } from '../../src/core/diff.js';
import { defaultGates } from '../../src/core/gates.js';
import type { AuditEntry, FlagState } from '../../src/core/types.js';
import { prng } from './measure.js';

const YEAR_MS = 365 * 24 * 3600 * 1000;
const START = Date.UTC(2025, 0, 1);

/** What the seeding run produced; stored as the marker row so a later run can reuse the data. */
export interface SeedSpec {
  entries: number;
  features: number;
  actors: number;
  /** Bumped when the generator changes, so stale data is reseeded. */
  version: number;
}

export const SEED_VERSION = 1;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** A UUIDv7 for millisecond `ms` with random bits from `rand`, in the trail's lowercase form. */
export function uuidv7At(ms: number, rand: () => number): string {
  const t = hex(ms, 12);
  const r = () => Math.floor(rand() * 0x10000);
  const variant = 0x8000 | (r() & 0x3fff);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${hex(r() & 0xfff, 3)}-${hex(variant, 4)}-${hex(r(), 4)}${hex(r(), 4)}${hex(r(), 4)}`;
}

/** The feature key of index `i`. */
export function featureKey(i: number): string {
  return `feature_${String(i).padStart(3, '0')}`;
}

/**
 * Entries in id (time) order, `batchSize` at a time. Each is an enable or disable of one actor on a
 * random flag, whose before/after hold a few actors, a group and a percentage, like real entries.
 */
export function* entryBatches(spec: SeedSpec, batchSize: number): Generator<AuditEntry[]> {
  const rand = prng(0x5eed + spec.version);
  const step = YEAR_MS / spec.entries;
  let batch: AuditEntry[] = [];
  for (let i = 0; i < spec.entries; i++) {
    const feature = featureKey(Math.floor(rand() * spec.features));
    const actorId = `user_${Math.floor(rand() * spec.actors)}`;
    const member = `customer_${Math.floor(rand() * 100_000)}`;
    const others = [0, 1, 2].map((k) => `customer_${(i * 7 + k * 13) % 100_000}`).sort();
    const enable = rand() < 0.7;
    const base = { ...defaultGates(), groups: ['beta'], percentageOfActors: 25 };
    const withMember = [...new Set([...others, member])].sort();
    const before: FlagState = { exists: true, gates: { ...base, actors: enable ? others : withMember } };
    const after: FlagState = { exists: true, gates: { ...base, actors: enable ? withMember : others } };
    const createdAt = new Date(START + Math.floor(i * step));
    batch.push({
      id: uuidv7At(createdAt.getTime(), rand),
      version: 1,
      feature,
      operation: enable ? 'enable' : 'disable',
      gate: 'actors',
      value: member,
      before,
      after,
      changes: diffStates(before, after),
      actor: { id: actorId, label: `User ${actorId.slice(5)}`, type: 'user' },
      context: { reason: 'bench seed', requestId: `req_${i}` },
      adapter: 'prisma',
      createdAt,
    });
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
