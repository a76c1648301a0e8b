// `npm run bench [-- --quick] [-- --only=memory,postgres]`: runs every benchmark case against the
// real components, prints a table and writes bench/results.json. See docs/performance.md.
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { postgresHistory } from './cases/history-postgres.js';
import { readRatioMemory, writeAddedMicrosMemory } from './cases/memory.js';
import { mongodbCases } from './cases/mongodb.js';
import { postgresWrites } from './cases/postgres.js';
import { sqliteWrites } from './cases/sqlite.js';
import { type BenchConfig, benchConfig } from './lib/config.js';
import { type BenchResult, type CaseResult, renderTable, writeResults } from './lib/report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** A group of cases that share a setup (a database, a server); ids are known before it runs. */
interface Group {
  name: string;
  ids: { id: string; unit: string; target: number | null; direction: CaseResult['direction'] }[];
  run: (config: BenchConfig) => Promise<CaseResult[]>;
}

async function openFeature(config: BenchConfig): Promise<CaseResult[]> {
  const file = join(HERE, 'openfeature.ts');
  if (!existsSync(file)) throw new Error(`${file} is missing (it comes with the OpenFeature provider)`);
  const mod = (await import(pathToFileURL(file).href)) as {
    runOpenFeatureBench?: (options: { quick: boolean }) => Promise<BenchResult & { detail?: string }>;
  };
  if (typeof mod.runOpenFeatureBench !== 'function')
    throw new Error(`${file} exports no runOpenFeatureBench`);
  const r = await mod.runOpenFeatureBench({ quick: config.quick });
  return [{ ...r, direction: 'atMost' }];
}

const GROUPS: Group[] = [
  {
    name: 'memory',
    ids: [
      { id: 'read.ratio.memory', unit: 'ratio', target: 1.03, direction: 'atMost' },
      { id: 'write.addedMicros.memory', unit: 'µs', target: 15, direction: 'atMost' },
    ],
    run: async (config) => [await readRatioMemory(config), await writeAddedMicrosMemory(config)],
  },
  {
    name: 'postgres',
    ids: [
      { id: 'write.ratio.postgres', unit: 'ratio', target: 1.8, direction: 'atMost' },
      { id: 'write.throughput.postgres', unit: 'writes/s', target: 2000, direction: 'atLeast' },
    ],
    run: postgresWrites,
  },
  {
    name: 'sqlite',
    ids: [{ id: 'write.ratio.sqlite', unit: 'ratio', target: null, direction: 'report' }],
    run: sqliteWrites,
  },
  {
    name: 'postgres-history',
    ids: [
      { id: 'history.p95ms.postgres.1m', unit: 'ms', target: 5, direction: 'atMost' },
      { id: 'history.deepPageRatio.postgres', unit: 'ratio', target: 1.2, direction: 'atMost' },
    ],
    run: (config) => postgresHistory(config, log),
  },
  {
    name: 'mongodb',
    ids: [
      { id: 'write.ratio.mongodb', unit: 'ratio', target: 1.8, direction: 'atMost' },
      { id: 'history.p95ms.mongodb.1m', unit: 'ms', target: 5, direction: 'atMost' },
    ],
    run: (config) => mongodbCases(config, log),
  },
  {
    name: 'openfeature',
    ids: [{ id: 'eval.ratio.inMemoryProvider', unit: 'ratio', target: 1.3, direction: 'atMost' }],
    run: openFeature,
  },
];

function parseArgs(argv: string[]): { quick: boolean; only: string[] | undefined; out: string } {
  let quick = false;
  let only: string[] | undefined;
  let out = join(HERE, 'results.json');
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg.startsWith('--only=')) only = arg.slice('--only='.length).split(',').filter(Boolean);
    else if (arg.startsWith('--out=')) out = arg.slice('--out='.length);
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        `usage: npm run bench [-- --quick] [-- --only=${GROUPS.map((g) => g.name).join(',')}] [-- --out=file.json]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}; try --help`);
  }
  const known = GROUPS.map((g) => g.name);
  const unknown = only?.filter((name) => !known.includes(name)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown group(s) ${unknown.join(', ')}; groups: ${known.join(', ')}`);
  return { quick, only, out };
}

function machine(): string {
  const [one, five] = loadavg();
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, load ${one!.toFixed(2)}/${five!.toFixed(2)} (1/5 min)`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = benchConfig(args.quick);
  log(`flagtrail bench (${args.quick ? 'quick' : 'full'}): ${machine()}`);
  const results: CaseResult[] = [];
  const started = performance.now();
  for (const group of GROUPS) {
    if (args.only && !args.only.includes(group.name)) continue;
    const t0 = performance.now();
    log(`[${group.name}] running`);
    try {
      const figures = await group.run(config);
      results.push(...figures);
      for (const r of figures) log(`[${group.name}] ${r.id} = ${r.value}${r.detail ? ` (${r.detail})` : ''}`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`[${group.name}] failed: ${message}`);
      for (const id of group.ids) {
        results.push({ ...id, value: null, error: error instanceof Error ? error.message : String(error) });
      }
    }
    log(`[${group.name}] done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  await writeResults(args.out, results);
  process.stdout.write(`\n${renderTable(results)}\n\n`);
  process.stdout.write(
    `${machine()}; total ${((performance.now() - started) / 1000).toFixed(0)} s; wrote ${args.out}\n`,
  );
  if (results.some((r) => r.error !== undefined)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
