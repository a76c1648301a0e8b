// In-memory cases: what the decorator itself costs, with no I/O to hide it.
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import type { FlagAdapter } from '../../src/core/types.js';
import { MemoryFlagAdapter } from '../../src/memory/index.js';
import type { BenchConfig } from '../lib/config.js';
import { compare } from '../lib/measure.js';
import type { CaseResult } from '../lib/report.js';

const FEATURES = 100;
// Calls per tinybench iteration: single calls take well under a microsecond, below what one
// timer read can resolve, so each sample times a batch.
const GETS_PER_ITERATION = FEATURES;
const ENABLES_PER_ITERATION = FEATURES;
// A typical targeted flag: a handful of named actors next to a group and a percentage.
const ACTORS_PER_FLAG = 10;

const keys = Array.from({ length: FEATURES }, (_, i) => `feature_${i}`);

async function populated(actorsPerFlag: number): Promise<MemoryFlagAdapter> {
  const adapter = new MemoryFlagAdapter();
  for (const [i, key] of keys.entries()) {
    for (let a = 0; a < actorsPerFlag; a++) await adapter.enable(key, 'actors', `u${i}_${a}`);
    await adapter.enable(key, 'groups', 'admins');
    await adapter.enable(key, 'percentageOfActors', i % 100);
  }
  return adapter;
}

function readWork(adapter: FlagAdapter): () => Promise<void> {
  return async () => {
    for (let i = 0; i < GETS_PER_ITERATION; i++) await adapter.get(keys[i]!);
    await adapter.getAll();
  };
}

/** `read.ratio.memory`: audited/raw for a batch of `get` calls plus one `getAll`, 100 flags. */
export async function readRatioMemory(config: BenchConfig): Promise<CaseResult> {
  const raw = await populated(ACTORS_PER_FLAG);
  const audited = withAuditTrail(await populated(ACTORS_PER_FLAG));
  const result = await compare(
    { name: 'raw', fn: readWork(raw) },
    { name: 'audited', fn: readWork(audited) },
    { rounds: config.memoryRounds, iterations: config.memoryIterations, warmupIterations: 50 },
  );
  return {
    id: 'read.ratio.memory',
    value: result.ratio,
    unit: 'ratio',
    target: 1.03,
    direction: 'atMost',
    detail: `median per batch (${GETS_PER_ITERATION} get + 1 getAll of ${FEATURES} flags): raw ${(result.aMedian * 1000).toFixed(1)} µs, audited ${(result.bMedian * 1000).toFixed(1)} µs; round ratios ${result.ratios.map((r) => r.toFixed(3)).join(' ')}`,
  };
}

/**
 * `write.addedMicros.memory`: audited minus raw per `enable` (actors gate), in µs. Each flag holds
 * `ACTORS_PER_FLAG` actors, a group and a percentage; each sample enables one new actor on 100
 * flags and an untimed hook disables it again, so every sample sees the same set sizes (the cost
 * of the diff and of the stored copies grows with the size of the flag's sets).
 */
export async function writeAddedMicrosMemory(config: BenchConfig): Promise<CaseResult> {
  const raw = await populated(ACTORS_PER_FLAG);
  const audited = withAuditTrail(await populated(ACTORS_PER_FLAG));
  let counter = 0;
  const side = (name: string, adapter: FlagAdapter, inner: FlagAdapter) => {
    let actor = '';
    return {
      name,
      fn: async () => {
        actor = `new_${counter++}`;
        for (let i = 0; i < ENABLES_PER_ITERATION; i++) await adapter.enable(keys[i]!, 'actors', actor);
      },
      afterEach: async () => {
        for (let i = 0; i < ENABLES_PER_ITERATION; i++) await inner.disable(keys[i]!, 'actors', actor);
      },
    };
  };
  const result = await compare(side('raw', raw, raw), side('audited', audited, audited.inner), {
    rounds: config.memoryRounds,
    iterations: Math.max(50, config.memoryIterations / 5),
    warmupIterations: 20,
  });
  const perCall = (ms: number) => (ms * 1000) / ENABLES_PER_ITERATION;
  return {
    id: 'write.addedMicros.memory',
    value: perCall(result.difference),
    unit: 'µs',
    target: 15,
    direction: 'atMost',
    detail: `median per enable on a flag with ${ACTORS_PER_FLAG} actors: raw ${perCall(result.aMedian).toFixed(2)} µs, audited ${perCall(result.bMedian).toFixed(2)} µs (ratio ${result.ratio.toFixed(2)})`,
  };
}
