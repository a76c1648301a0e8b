// Measurement helpers shared by every case: A/B comparisons run in alternating rounds, so slow
// drift on a shared machine (other engineers' tests, CPU frequency) hits both sides alike.
import { Bench } from 'tinybench';

/** One side of an A/B comparison: a name and one iteration of work. */
export interface Side {
  name: string;
  fn: () => Promise<unknown>;
  /** Untimed, after each iteration: undoes what `fn` did so every sample starts from the same state. */
  afterEach?: () => Promise<void>;
}

/** How long to measure one comparison. */
export interface CompareOptions {
  /** Rounds; each runs both sides, the order flipping every round. */
  rounds: number;
  /** Iterations per side per round (tinybench samples). */
  iterations: number;
  /** Warm-up iterations per side per round. */
  warmupIterations: number;
  /** Runs untimed before each round (e.g. truncating tables so both sides see the same sizes). */
  beforeRound?: (round: number) => Promise<void>;
}

/** What a comparison produces; times in milliseconds per iteration. */
export interface Comparison {
  /** Median over rounds of (b median / a median). */
  ratio: number;
  /** Median over rounds of (b median - a median), in ms. */
  difference: number;
  aMedian: number;
  bMedian: number;
  /** Per-round ratios, to judge stability. */
  ratios: number[];
}

/** The median of a list (interpolated between the two middle values for even lengths). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The q-quantile (0..1) of a list, linear interpolation between closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of an empty list');
  const sorted = [...values].sort((x, y) => x - y);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

async function medianOf(side: Side, iterations: number, warmupIterations: number): Promise<number> {
  const bench = new Bench({
    iterations,
    time: 0,
    warmup: warmupIterations > 0,
    warmupIterations,
    warmupTime: 0,
    throws: true,
  });
  bench.add(side.name, side.fn, side.afterEach ? { afterEach: side.afterEach } : {});
  const [task] = await bench.run();
  const result = task?.result;
  if (!result || !('latency' in result)) throw new Error(`benchmark task ${side.name} produced no result`);
  return result.latency.p50;
}

/**
 * Measures `b` against `a`: in each round both run `iterations` times after a warm-up, the order
 * alternating between rounds; the per-round ratio of medians is taken, then the median of those.
 */
export async function compare(a: Side, b: Side, options: CompareOptions): Promise<Comparison> {
  const ratios: number[] = [];
  const differences: number[] = [];
  const aMedians: number[] = [];
  const bMedians: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    await options.beforeRound?.(round);
    let am: number;
    let bm: number;
    if (round % 2 === 0) {
      am = await medianOf(a, options.iterations, options.warmupIterations);
      bm = await medianOf(b, options.iterations, options.warmupIterations);
    } else {
      bm = await medianOf(b, options.iterations, options.warmupIterations);
      am = await medianOf(a, options.iterations, options.warmupIterations);
    }
    aMedians.push(am);
    bMedians.push(bm);
    ratios.push(bm / am);
    differences.push(bm - am);
  }
  return {
    ratio: median(ratios),
    difference: median(differences),
    aMedian: median(aMedians),
    bMedian: median(bMedians),
    ratios,
  };
}

/** Latencies in ms of `count` sequential calls of `fn(i)`, after `warmup` untimed calls. */
export async function sampleLatencies(
  count: number,
  warmup: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const out: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await fn(i);
    out[i] = performance.now() - t0;
  }
  return out;
}

/** A small deterministic PRNG (mulberry32), so seeds and sample choices repeat between runs. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
