import { diffStates } from '../core/diff.js';
import { defaultGates } from '../core/gates.js';
import type { AuditEntry, FlagState } from '../core/types.js';

const HEX = '0123456789abcdef';

/**
 * A UUIDv7 for a given millisecond and sequence number, so test entries can be created with
 * ids whose order matches their `createdAt` order, like the ones the trail generates.
 */
export function uuidv7At(ms: number, sequence = 0): string {
  const ts = Math.floor(ms).toString(16).padStart(12, '0').slice(-12);
  const seq = (sequence & 0xfff).toString(16).padStart(3, '0');
  let tail = '';
  let n = Math.floor(sequence / 0x1000);
  for (let i = 0; i < 15; i++) {
    tail = HEX[n % 16] + tail;
    n = Math.floor(n / 16);
  }
  return `${ts.slice(0, 8)}-${ts.slice(8)}-7${seq}-8${tail.slice(0, 3)}-${tail.slice(3)}`;
}

let counter = 0;

/**
 * A valid `AuditEntry` for store tests: an `enable` of the boolean gate of `feature` by
 * `tester`, created at `overrides.createdAt` (default: now) with a matching time-ordered id.
 */
export function makeAuditEntry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  const createdAt = overrides.createdAt ?? new Date();
  const before: FlagState = overrides.before ?? { exists: false, gates: defaultGates() };
  const after: FlagState = overrides.after ?? { exists: true, gates: { ...defaultGates(), boolean: true } };
  counter += 1;
  return {
    id: overrides.id ?? uuidv7At(createdAt.getTime(), counter),
    version: 1,
    feature: 'checkout',
    operation: 'enable',
    gate: 'boolean',
    value: true,
    before,
    after,
    changes: diffStates(before, after),
    actor: { id: 'tester', label: 'Test User', type: 'user' },
    context: { reason: 'conformance test', requestId: 'req-1' },
    adapter: 'conformance',
    ...overrides,
    createdAt,
  };
}
