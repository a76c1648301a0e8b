// `eval.ratio.inMemoryProvider`: getBooleanValue through FlagTrailProvider against the SDK's own
// InMemoryProvider holding the same flags, in one process, through the same OpenFeature client
// machinery. Run alone with `npx tsx bench/openfeature.ts [--quick]`; bench/run.ts calls
// runOpenFeatureBench.

import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { type Client, type EvaluationContext, InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { withAuditTrail } from '../src/core/audited-adapter.js';
import { MemoryFlagAdapter } from '../src/memory/index.js';
import { FlagTrailProvider } from '../src/openfeature/index.js';
import { compare } from './lib/measure.js';

/** What bench/run.ts reads from this case. */
export interface OpenFeatureBenchResult {
  id: 'eval.ratio.inMemoryProvider';
  value: number;
  unit: 'ratio';
  target: 1.3;
  detail: string;
}

// A single evaluation takes a few microseconds, too little for one timer read, so each sample
// times a batch that walks every flag with every context.
const BETA_USERS = Array.from({ length: 10 }, (_, i) => `u${i * 7}`);
const CONTEXTS: EvaluationContext[] = Array.from({ length: 16 }, (_, i) => ({
  targetingKey: `u${i}`,
  plan: i % 3 === 0 ? 'pro' : 'free',
  role: i % 5 === 0 ? 'admin' : 'user',
}));
const FLAGS = ['everyone', 'beta-users', 'rollout', 'pro-plan', 'admins', 'dark'] as const;
const EVALUATIONS_PER_ITERATION = FLAGS.length * CONTEXTS.length * 2;

const onOff = { on: true, off: false };
const isAdmin = (context: EvaluationContext) => context.role === 'admin';

/** The same six flags, as InMemoryProvider configuration: one context evaluator per targeted flag. */
function inMemoryFlags(): ConstructorParameters<typeof InMemoryProvider>[0] {
  const beta = new Set(BETA_USERS);
  const variant = (on: boolean) => (on ? 'on' : 'off');
  return {
    everyone: { variants: onOff, defaultVariant: 'on', disabled: false },
    'beta-users': {
      variants: onOff,
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (c) => variant(typeof c.targetingKey === 'string' && beta.has(c.targetingKey)),
    },
    rollout: {
      variants: onOff,
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (c) => variant(crc32(`rollout${c.targetingKey ?? ''}`) % 100_000 < 25_000),
    },
    'pro-plan': {
      variants: onOff,
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (c) => variant(c.plan === 'pro'),
    },
    admins: {
      variants: onOff,
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (c) => variant(isAdmin(c)),
    },
    dark: { variants: onOff, defaultVariant: 'off', disabled: false },
  };
}

async function flagtrailAdapter() {
  const adapter = withAuditTrail(new MemoryFlagAdapter());
  await adapter.enable('everyone', 'boolean', true);
  for (const id of BETA_USERS) await adapter.enable('beta-users', 'actors', id);
  await adapter.enable('rollout', 'percentageOfActors', 25);
  await adapter.enable('pro-plan', 'expression', { Equal: [{ Property: ['plan'] }, 'pro'] });
  await adapter.enable('admins', 'groups', 'admins');
  await adapter.add('dark');
  return adapter;
}

function work(client: Client): () => Promise<number> {
  return async () => {
    let on = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const context of CONTEXTS) {
        for (const flag of FLAGS) if (await client.getBooleanValue(flag, false, context)) on++;
      }
    }
    return on;
  };
}

/** Runs the comparison; `quick` shortens it for CI smoke runs. */
export async function runOpenFeatureBench({ quick }: { quick: boolean }): Promise<OpenFeatureBenchResult> {
  const flagtrail = new FlagTrailProvider(await flagtrailAdapter(), { groups: { admins: isAdmin } });
  const inMemory = new InMemoryProvider(inMemoryFlags());
  await OpenFeature.setProviderAndWait('bench-flagtrail', flagtrail);
  await OpenFeature.setProviderAndWait('bench-in-memory', inMemory);
  try {
    const a = OpenFeature.getClient('bench-in-memory');
    const b = OpenFeature.getClient('bench-flagtrail');
    // Both providers must agree before their speed means anything.
    const [onA, onB] = [await work(a)(), await work(b)()];
    if (onA !== onB) throw new Error(`providers disagree: in-memory ${onA} flags on, flagtrail ${onB}`);
    const result = await compare(
      { name: 'InMemoryProvider', fn: work(a) },
      { name: 'FlagTrailProvider', fn: work(b) },
      { rounds: quick ? 4 : 10, iterations: quick ? 100 : 400, warmupIterations: quick ? 20 : 100 },
    );
    const per = (ms: number) => ((ms * 1000) / EVALUATIONS_PER_ITERATION).toFixed(2);
    return {
      id: 'eval.ratio.inMemoryProvider',
      value: result.ratio,
      unit: 'ratio',
      target: 1.3,
      detail: `median per getBooleanValue: InMemoryProvider ${per(result.aMedian)} µs, FlagTrailProvider ${per(result.bMedian)} µs (${FLAGS.length} flags x ${CONTEXTS.length} contexts); round ratios ${result.ratios.map((r) => r.toFixed(3)).join(' ')}`,
    };
  } finally {
    await OpenFeature.clearProviders();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const r = await runOpenFeatureBench({ quick });
  process.stdout.write(
    `${r.id}: ${r.value.toFixed(3)} (target <= ${r.target}) ${r.value <= r.target ? 'pass' : 'miss'}\n${r.detail}\n`,
  );
}
