// Write cost on real databases: audited/raw `enable` of an actor gate, in alternating rounds.
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import type { FlagAdapter } from '../../src/core/types.js';
import type { BenchConfig } from '../lib/config.js';
import { compare } from '../lib/measure.js';
import type { CaseResult } from '../lib/report.js';

const FEATURES = 20;
const ACTORS_PER_FLAG = 10;

/** Gives each of `FEATURES` flags `ACTORS_PER_FLAG` actors, a group and a percentage. */
export async function populate(adapter: FlagAdapter, prefix: string): Promise<string[]> {
  const keys = Array.from({ length: FEATURES }, (_, i) => `${prefix}_${i}`);
  for (const key of keys) {
    for (let a = 0; a < ACTORS_PER_FLAG; a++) await adapter.enable(key, 'actors', `u${a}`);
    await adapter.enable(key, 'groups', 'admins');
    await adapter.enable(key, 'percentageOfActors', 25);
  }
  return keys;
}

/**
 * audited/raw `enable(feature, 'actors', newId)`: each sample enables one new actor on a flag with
 * `ACTORS_PER_FLAG` actors, and an untimed hook disables it again through the raw adapter, so
 * every sample starts from the same state on both sides. Raw and audited use distinct flags.
 */
export async function writeRatio(
  id: string,
  makeRaw: () => FlagAdapter,
  config: BenchConfig,
  makeAudited: () => FlagAdapter = () => withAuditTrail(makeRaw()),
): Promise<CaseResult> {
  const raw = makeRaw();
  const audited = makeAudited();
  const rawKeys = await populate(raw, `raw_${id.replace(/\W/g, '_')}`);
  const auditedKeys = await populate(raw, `aud_${id.replace(/\W/g, '_')}`);
  let counter = 0;
  const side = (name: string, adapter: FlagAdapter, keys: string[]) => {
    let feature = '';
    let actor = '';
    return {
      name,
      fn: async () => {
        const n = counter++;
        feature = keys[n % keys.length]!;
        actor = `new_${n}`;
        await adapter.enable(feature, 'actors', actor);
      },
      afterEach: async () => {
        await raw.disable(feature, 'actors', actor);
      },
    };
  };
  const result = await compare(side('raw', raw, rawKeys), side('audited', audited, auditedKeys), {
    rounds: config.writeRounds,
    iterations: config.writeIterations,
    warmupIterations: 20,
  });
  return {
    id,
    value: result.ratio,
    unit: 'ratio',
    target: null,
    direction: 'report',
    detail: `median enable: raw ${result.aMedian.toFixed(3)} ms, audited ${result.bMedian.toFixed(3)} ms; round ratios ${result.ratios.map((r) => r.toFixed(2)).join(' ')}`,
  };
}
