import { FlagTrailError } from '../core/errors.js';
import type { AuditEntry, AuditStore, HistoryQuery, NormalizedHistoryQuery } from '../core/types.js';
import { validateHistoryQuery } from '../core/validate.js';

function copy(entry: AuditEntry): AuditEntry {
  return structuredClone(entry);
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
    this.entries.splice(this.firstAtOrAfter(stored.id), 0, stored);
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
