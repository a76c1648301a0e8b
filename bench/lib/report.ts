// The result of each case, the printed table and bench/results.json.
import { writeFile } from 'node:fs/promises';

/** One figure, as written to bench/results.json. `target` is null for report-only figures. */
export interface BenchResult {
  id: string;
  value: number | null;
  unit: string;
  target: number | null;
}

/** Which side of the target passes: ratios and latencies must stay at or under, throughput at or over. */
export type Direction = 'atMost' | 'atLeast' | 'report';

/** A figure plus what the table shows next to it. */
export interface CaseResult extends BenchResult {
  direction: Direction;
  /** One line of context: the medians behind a ratio, sample counts, sizes. */
  detail?: string;
  /** Set when the case could not run; the value is then null and the run exits non-zero. */
  error?: string;
}

/** The verdict the table shows. */
export function verdict(r: CaseResult): 'pass' | 'miss' | 'report' | 'ERROR' {
  if (r.error !== undefined || r.value === null) return 'ERROR';
  if (r.direction === 'report' || r.target === null) return 'report';
  return (r.direction === 'atMost' ? r.value <= r.target : r.value >= r.target) ? 'pass' : 'miss';
}

/** Rounds for display: 3 significant decimals for small numbers, none for large ones. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(3);
  return value.toPrecision(3);
}

function targetText(r: CaseResult): string {
  if (r.target === null || r.direction === 'report') return 'report';
  return `${r.direction === 'atMost' ? '≤' : '≥'} ${formatNumber(r.target)}`;
}

/** The results as an aligned text table, one row per case, details below. */
export function renderTable(results: readonly CaseResult[]): string {
  const header = ['id', 'value', 'unit', 'target', 'result'];
  const rows = results.map((r) => [
    r.id,
    r.value === null ? '-' : formatNumber(r.value),
    r.unit,
    targetText(r),
    verdict(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const notes = results.filter((r) => r.detail !== undefined || r.error !== undefined);
  if (notes.length > 0) {
    out.push('');
    for (const r of notes) out.push(`${r.id}: ${r.error !== undefined ? `ERROR ${r.error}` : r.detail}`);
  }
  return out.join('\n');
}

/** Writes the figures as a JSON array of `{ id, value, unit, target }`. */
export async function writeResults(path: string, results: readonly CaseResult[]): Promise<void> {
  const plain: BenchResult[] = results.map(({ id, value, unit, target }) => ({ id, value, unit, target }));
  await writeFile(path, `${JSON.stringify(plain, null, 2)}\n`);
}
