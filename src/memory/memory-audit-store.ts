import { FlagTrailError } from '../core/errors.js';
import { cloneGates } from '../core/gates.js';
import type {
  AuditContext,
  AuditEntry,
  AuditStore,
  FlagState,
  HistoryQuery,
  JsonObject,
  JsonPatchOperation,
  JsonValue,
  NormalizedHistoryQuery,
} from '../core/types.js';
import { validateHistoryQuery } from '../core/validate.js';

function cloneJson<T extends JsonValue | undefined>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const item = cloneJson((value as JsonObject)[key]);
    // A "__proto__" key must stay data; assignment would swap the prototype.
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item as JsonValue;
  }
  return out as T;
}

function cloneState(state: FlagState): FlagState {
  return { exists: state.exists, gates: cloneGates(state.gates) };
}

// Entries are JSON plus one Date; a dedicated copy is several times faster than structuredClone.
function copy(entry: AuditEntry): AuditEntry {
  return {
    ...entry,
    value: cloneJson(entry.value),
    before: cloneState(entry.before),
    after: cloneState(entry.after),
    changes: entry.changes.map(
      (op) => cloneJson(op as unknown as JsonObject) as unknown as JsonPatchOperation,
    ),
    actor: { ...entry.actor },
    context: cloneJson(entry.context as JsonObject) as AuditContext,
    createdAt: new Date(entry.createdAt.getTime()),
  };
}

function matches(entry: AuditEntry, q: NormalizedHistoryQuery): boolean {
  if (q.feature !== undefined && entry.feature !== q.feature) return false;
  if (q.actorId !== undefined && entry.actor.id !== q.actorId) return false;
  if (q.operations !== undefined && !q.operations.includes(entry.operation)) return false;
  if (q.gate !== undefined && entry.gate !== q.gate) return false;
  const at = entry.createdAt.getTime();
  if (q.since !== undefined && at < q.since.getTime()) return false;
  if (q.until !== undefined && at >= q.until.getTime()) return false;
  return true;
}

/**
 * Entries kept in process memory, ordered by id. For tests and single-process apps.
 * `record` is idempotent on the entry id.
 */
export class MemoryAuditStore implements AuditStore {
  readonly name = 'memory';
  // Sorted by id ascending; entries may be recorded out of id order when writes overlap.
  private readonly entries: AuditEntry[] = [];
  private readonly ids = new Set<string>();

  async record(entry: AuditEntry): Promise<void> {
    if (
      entry === null ||
      typeof entry !== 'object' ||
      typeof entry.id !== 'string' ||
      !(entry.createdAt instanceof Date)
    ) {
      throw new FlagTrailError(
        'MALFORMED_ENTRY',
        'memory store: an entry needs a string id and a Date createdAt',
      );
    }
    if (this.ids.has(entry.id)) return;
    const stored = copy(entry);
    const last = this.entries[this.entries.length - 1];
    // Ids are time-ordered, so almost every entry belongs at the end.
    if (last === undefined || last.id < stored.id) this.entries.push(stored);
    else this.entries.splice(this.firstAtOrAfter(stored.id), 0, stored);
    this.ids.add(stored.id);
  }

  async query(query: HistoryQuery = {}): Promise<AuditEntry[]> {
    const q = validateHistoryQuery(query);
    const result: AuditEntry[] = [];
    const start = q.before === undefined ? this.entries.length : this.firstAtOrAfter(q.before);
    for (let i = start - 1; i >= 0 && result.length < q.limit; i--) {
      const entry = this.entries[i]!;
      if (matches(entry, q)) result.push(copy(entry));
    }
    return result;
  }

  private firstAtOrAfter(id: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** How many entries the store holds. */
  get size(): number {
    return this.entries.length;
  }
}
