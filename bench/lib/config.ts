// Sizes of a full run and of `--quick`. The full run is what docs/performance.md reports.

/** How much work each case does. */
export interface BenchConfig {
  quick: boolean;
  /** Audit entries seeded for the history cases, over `features` features and `actors` actors. */
  entries: number;
  features: number;
  actors: number;
  /** Rounds and iterations of the in-memory comparisons. */
  memoryRounds: number;
  memoryIterations: number;
  /** Rounds and iterations of the database write comparisons. */
  writeRounds: number;
  writeIterations: number;
  /** Timed `history()` calls for the p95, and for each side of the deep-page ratio. */
  historySamples: number;
  /** Page of the deep-page ratio (100 entries a page). */
  deepPage: number;
  /** Audited writes in the throughput case, and concurrent writers. */
  throughputWrites: number;
  writers: number;
  /**
   * Entries and samples of the MongoDB history case when the server is FerretDB 1.x: it pushes no
   * filter, sort or limit down to SQLite, so every history call decodes the whole collection
   * (about 1 s per 2,000 documents on the reference machine) and 1M entries cannot be sampled.
   */
  ferretHistoryEntries: number;
  ferretHistorySamples: number;
}

/** The configuration for a full run or a `--quick` one. */
export function benchConfig(quick: boolean): BenchConfig {
  return quick
    ? {
        quick,
        entries: 100_000,
        features: 200,
        actors: 1_000,
        memoryRounds: 6,
        memoryIterations: 200,
        writeRounds: 4,
        writeIterations: 60,
        historySamples: 300,
        deepPage: 100,
        throughputWrites: 2_000,
        writers: 16,
        ferretHistoryEntries: 5_000,
        ferretHistorySamples: 10,
      }
    : {
        quick,
        entries: 1_000_000,
        features: 200,
        actors: 1_000,
        memoryRounds: 12,
        memoryIterations: 500,
        writeRounds: 10,
        writeIterations: 200,
        historySamples: 2_000,
        deepPage: 1_000,
        throughputWrites: 4_000,
        writers: 16,
        ferretHistoryEntries: 10_000,
        ferretHistorySamples: 20,
      };
}
