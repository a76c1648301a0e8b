import { cloneGates, defaultGates, sortedSet } from '../core/gates.js';
import type {
  AuditStore,
  FlagAdapter,
  FlagState,
  GateKey,
  GateValue,
  GateValues,
  JsonObject,
} from '../core/types.js';
import { validateFeature, validateFeatures, validateGate, validateGateValue } from '../core/validate.js';
import { MemoryAuditStore } from './memory-audit-store.js';

// `result[key] = v` with key "__proto__" would replace the result's prototype instead of adding a flag.
function setOwn(result: Record<string, GateValues>, key: string, value: GateValues): void {
  Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Options of `MemoryFlagAdapter`. */
export interface MemoryFlagAdapterOptions {
  /** The store `withAuditTrail` infers. Default: a new `MemoryAuditStore` per adapter. */
  auditStore?: AuditStore;
}

/**
 * Flags kept in process memory, with Ruby Flipper's write semantics. For tests, scripts and
 * single-process apps; everything is lost when the process ends.
 *
 * @example
 * ```ts
 * const flags = withAuditTrail(new MemoryFlagAdapter());
 * await flags.enable('search', 'percentageOfActors', 25);
 * ```
 */
export class MemoryFlagAdapter implements FlagAdapter {
  readonly name = 'memory';
  private readonly flags = new Map<string, GateValues>();
  private auditStore: AuditStore | undefined;

  constructor(options: MemoryFlagAdapterOptions = {}) {
    this.auditStore = options.auditStore;
  }

  async features(): Promise<string[]> {
    return [...this.flags.keys()];
  }

  async exists(feature: string): Promise<boolean> {
    return this.flags.has(validateFeature(feature));
  }

  async add(feature: string): Promise<void> {
    this.ensure(validateFeature(feature));
  }

  async remove(feature: string): Promise<void> {
    this.flags.delete(validateFeature(feature));
  }

  async clear(feature: string): Promise<void> {
    const key = validateFeature(feature);
    if (this.flags.has(key)) this.flags.set(key, defaultGates());
  }

  async state(feature: string): Promise<FlagState> {
    const gates = this.flags.get(validateFeature(feature));
    return gates ? { exists: true, gates: cloneGates(gates) } : { exists: false, gates: defaultGates() };
  }

  async get(feature: string): Promise<GateValues> {
    const gates = this.flags.get(validateFeature(feature));
    return gates ? cloneGates(gates) : defaultGates();
  }

  async getMulti(features: string[]): Promise<Record<string, GateValues>> {
    const result: Record<string, GateValues> = {};
    for (const key of validateFeatures(features)) {
      const gates = this.flags.get(key);
      setOwn(result, key, gates ? cloneGates(gates) : defaultGates());
    }
    return result;
  }

  async getAll(): Promise<Record<string, GateValues>> {
    const result: Record<string, GateValues> = {};
    for (const [key, gates] of this.flags) setOwn(result, key, cloneGates(gates));
    return result;
  }

  async enable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    const key = validateFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('enable', g, value);
    const gates = this.ensure(key);
    switch (g) {
      case 'boolean':
        this.flags.set(key, { ...defaultGates(), boolean: true });
        return;
      case 'actors':
      case 'groups':
        gates[g] = sortedSet([...gates[g], v as string]);
        return;
      case 'percentageOfActors':
      case 'percentageOfTime':
        gates[g] = v as number;
        return;
      case 'expression':
        gates.expression = v as JsonObject;
        return;
    }
  }

  async disable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    const key = validateFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('disable', g, value);
    const gates = this.ensure(key);
    switch (g) {
      case 'boolean':
        this.flags.set(key, defaultGates());
        return;
      case 'actors':
      case 'groups':
        gates[g] = gates[g].filter((member) => member !== v);
        return;
      case 'percentageOfActors':
      case 'percentageOfTime':
        gates[g] = 0;
        return;
      case 'expression':
        gates.expression = null;
        return;
    }
  }

  /** The memory store given in the options, or one created on first use and kept. */
  defaultAuditStore(): AuditStore {
    this.auditStore ??= new MemoryAuditStore();
    return this.auditStore;
  }

  private ensure(key: string): GateValues {
    let gates = this.flags.get(key);
    if (!gates) {
      gates = defaultGates();
      this.flags.set(key, gates);
    }
    return gates;
  }
}
