import { describeInput, FlagTrailError } from '../errors.js';
import type { AuditEntry, AuditStore } from '../types.js';
import { isPermanentFailure, recordWithin } from './record.js';
import { Spool } from './spool.js';

/** Options of `withAuditTrail({ retry })`. */
export interface RetryOptions {
  /** Most entries held for retry; one more is dropped and reported to `onDrop`. Default 10,000. */
  capacity?: number;
  /** Delay before the first retry; each failed attempt doubles it. Default 250 ms. */
  baseDelayMs?: number;
  /** Longest delay between two attempts. Default 30,000 ms. */
  maxDelayMs?: number;
  /**
   * A JSONL file where entries waiting for retry are kept on disk, so a crash or restart while the
   * store is down loses nothing: a write resolves only after its entry is recorded or its line is
   * fdatasync'ed here. Entries left by a previous process are replayed when the trail is created.
   * One file per process.
   */
  spool?: string;
  /**
   * Called for every entry given up on: the queue is full (`OUTBOX_FULL`), the store refuses the
   * entry itself (`AUDIT_FAILED` caused by e.g. `MALFORMED_ENTRY`), `close()` ran out of time
   * without a spool (`CLOSED`), or a spool line cannot be read back (`MALFORMED_ENTRY`, entry
   * `undefined`). Default: one line on stderr.
   */
  onDrop?: (error: FlagTrailError, entry: AuditEntry | undefined) => void;
}

/** Retry settings after defaults. */
export interface ResolvedRetryOptions {
  capacity: number;
  baseDelayMs: number;
  maxDelayMs: number;
  spool: string | undefined;
  onDrop: (error: FlagTrailError, entry: AuditEntry | undefined) => void;
}

export const DEFAULT_RETRY: Readonly<Omit<ResolvedRetryOptions, 'onDrop' | 'spool'>> = Object.freeze({
  capacity: 10_000,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
});

function defaultOnDrop(error: FlagTrailError, entry: AuditEntry | undefined): void {
  const what = entry
    ? `audit entry ${entry.id} (${entry.operation} ${entry.feature} by ${entry.actor.id})`
    : 'an audit entry';
  process.stderr.write(`flagtrail: ${what} was dropped: ${error.message}\n`);
}

function positive(value: unknown, name: string, integer: boolean): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `retry.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${describeInput(value)}`,
    );
  }
  return value;
}

/** Validates `retry`: `true` for the defaults, or an object of `RetryOptions`. */
export function resolveRetryOptions(retry: unknown): ResolvedRetryOptions | undefined {
  if (retry === undefined || retry === false) return undefined;
  if (retry === true) return { ...DEFAULT_RETRY, spool: undefined, onDrop: defaultOnDrop };
  if (retry === null || typeof retry !== 'object' || Array.isArray(retry)) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `retry must be true or an object { capacity, baseDelayMs, maxDelayMs, spool, onDrop }, got ${describeInput(retry)}`,
    );
  }
  const r = retry as Record<string, unknown>;
  const known = new Set(['capacity', 'baseDelayMs', 'maxDelayMs', 'spool', 'onDrop']);
  for (const key of Object.keys(r)) {
    if (!known.has(key))
      throw new FlagTrailError('INVALID_OPTION', `unknown retry option ${describeInput(key)}`);
  }
  const out: ResolvedRetryOptions = {
    capacity: r.capacity === undefined ? DEFAULT_RETRY.capacity : positive(r.capacity, 'capacity', true),
    baseDelayMs:
      r.baseDelayMs === undefined ? DEFAULT_RETRY.baseDelayMs : positive(r.baseDelayMs, 'baseDelayMs', false),
    maxDelayMs:
      r.maxDelayMs === undefined ? DEFAULT_RETRY.maxDelayMs : positive(r.maxDelayMs, 'maxDelayMs', false),
    spool: undefined,
    onDrop: defaultOnDrop,
  };
  if (out.maxDelayMs < out.baseDelayMs) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `retry.maxDelayMs (${out.maxDelayMs}) must not be below retry.baseDelayMs (${out.baseDelayMs})`,
    );
  }
  if (r.spool !== undefined) {
    if (typeof r.spool !== 'string' || r.spool.length === 0) {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `retry.spool must be a file path, got ${describeInput(r.spool)}`,
      );
    }
    out.spool = r.spool;
  }
  if (r.onDrop !== undefined) {
    if (typeof r.onDrop !== 'function') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `retry.onDrop must be a function, got ${describeInput(r.onDrop)}`,
      );
    }
    out.onDrop = r.onDrop as ResolvedRetryOptions['onDrop'];
  }
  return out;
}

/**
 * Delay before attempt `attempt + 1` (attempt counts failures, from 1): exponential, capped, with
 * "equal jitter" (half fixed, half random) so many processes coming back from one outage do not
 * retry in lockstep.
 */
export function backoffDelay(
  attempt: number,
  base: number,
  max: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(max, base * 2 ** Math.min(attempt - 1, 52));
  return exp / 2 + (exp / 2) * random();
}

// Failed attempts on one head entry before later entries are tried past it.
const POISON_PROBE_AFTER = 3;
// Consecutive failures of the head, and later entries recorded meanwhile, before it is dropped.
const POISON_DROP_AFTER = 8;
const POISON_PROBES = 3;

/** What `close()` reports. */
export interface CloseResult {
  /** Entries still waiting when the deadline passed: kept in the spool, or dropped without one. */
  pending: number;
}

/**
 * The retry queue of one audited adapter: entries whose `record` failed, recorded in the order
 * they failed, one at a time, with exponential backoff between failed attempts. While it holds
 * anything, new entries queue behind instead of going to the store directly, so what the store
 * holds from this process is always a prefix of what the process produced (no holes in a flag's
 * chain once the store answers again).
 */
export class Outbox {
  private readonly queue: AuditEntry[] = [];
  private readonly ids = new Set<string>();
  private readonly spool: Spool | undefined;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private draining = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private recordedSinceCompaction = 0;
  private headFailures = 0;
  private probeSuccesses = 0;

  constructor(
    private readonly store: AuditStore,
    private readonly options: ResolvedRetryOptions,
    private readonly timeoutMs: number,
    // Reports the failure that starts an outage (the queue was empty) to the trail's onError.
    private readonly onOutage: (error: FlagTrailError, entry: AuditEntry) => void,
  ) {
    if (options.spool !== undefined) {
      const { spool, contents } = Spool.open(options.spool);
      this.spool = spool;
      for (const { line, error } of contents.unreadable) {
        this.drop(
          new FlagTrailError(
            'MALFORMED_ENTRY',
            `spool ${spool.file} line ${line} cannot be replayed: ${error.message}`,
            {
              cause: error,
            },
          ),
          undefined,
        );
      }
      for (const entry of contents.entries) this.push(entry);
      if (this.queue.length > 0) queueMicrotask(() => void this.drain());
    }
  }

  /** Entries waiting to be recorded, oldest first (copies). */
  entries(): AuditEntry[] {
    return this.queue.map((entry) => structuredClone(entry));
  }

  get size(): number {
    return this.queue.length;
  }

  /**
   * Records `entry`, or queues it for retry if the store fails or queue already holds entries.
   * Never rejects: a write in fail-open mode stands whatever happens here. Resolves when the entry
   * is recorded, or queued (and on disk with a spool), or reported to `onDrop`.
   */
  async deliver(entry: AuditEntry): Promise<void> {
    if (this.queue.length === 0 && !this.draining) {
      try {
        await recordWithin(this.store, entry, this.timeoutMs);
        return;
      } catch (error) {
        const failure = error as FlagTrailError;
        if (isPermanentFailure(failure)) {
          this.drop(failure, entry);
          return;
        }
        if (this.queue.length === 0) this.onOutage(failure, entry);
        this.attempts = Math.max(this.attempts, 1);
      }
    }
    await this.enqueue(entry);
  }

  private async enqueue(entry: AuditEntry): Promise<void> {
    if (this.closed) {
      this.drop(
        new FlagTrailError('CLOSED', 'the audited adapter is closed; the entry cannot be queued'),
        entry,
      );
      return;
    }
    if (this.queue.length >= this.options.capacity) {
      this.drop(
        new FlagTrailError(
          'OUTBOX_FULL',
          `the retry queue is full (${this.options.capacity} entries waiting for audit store "${this.store.name}")`,
        ),
        entry,
      );
      return;
    }
    this.push(entry);
    if (this.timer === undefined && !this.draining) this.schedule();
    if (this.spool) {
      try {
        await this.spool.append(entry);
      } catch (error) {
        // The entry is still queued in memory; only its durability is lost. Reported once per entry.
        this.onOutage(error as FlagTrailError, entry);
      }
    }
  }

  private push(entry: AuditEntry): void {
    if (this.ids.has(entry.id)) return;
    this.ids.add(entry.id);
    this.queue.push(entry);
  }

  private schedule(): void {
    if (this.closed) return;
    const delay = backoffDelay(Math.max(this.attempts, 1), this.options.baseDelayMs, this.options.maxDelayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delay);
    this.timer.unref?.();
  }

  /** Sends queued entries in order until one fails (then backs off) or the queue is empty. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const head = this.queue[0]!;
        try {
          await recordWithin(this.store, head, this.timeoutMs);
        } catch (error) {
          const failure = error as FlagTrailError;
          if (isPermanentFailure(failure)) {
            this.shift();
            this.drop(failure, head);
            continue;
          }
          this.attempts += 1;
          this.headFailures += 1;
          if (this.headFailures >= POISON_DROP_AFTER && this.probeSuccesses >= POISON_PROBES) {
            this.shift();
            this.drop(
              new FlagTrailError(
                'AUDIT_FAILED',
                `audit store "${this.store.name}" keeps refusing entry ${head.id} while it records others: ${failure.message}`,
                { cause: failure },
              ),
              head,
            );
            continue;
          }
          if (this.headFailures >= POISON_PROBE_AFTER && this.queue.length > 1) await this.probePast();
          if (!this.closed && this.timer === undefined) this.schedule();
          return;
        }
        this.attempts = 0;
        this.shift();
      }
    } finally {
      this.draining = false;
      if (this.queue.length === 0) this.idle();
    }
  }

  /**
   * The head keeps failing: is the store down, or does it refuse this one entry (too large for a
   * document, a value its column cannot hold)? After each failure from the third on, the next
   * entry is tried past it. Once the head has failed POISON_DROP_AFTER times in a row while
   * POISON_PROBES later entries went through, it is dropped to `onDrop`, so one poison entry
   * cannot hold every later entry hostage. A store that is down, or only blips now and then,
   * never gets there.
   */
  private async probePast(): Promise<void> {
    const second = this.queue[1]!;
    try {
      await recordWithin(this.store, second, this.timeoutMs);
    } catch {
      return;
    }
    this.removeAt(1);
    this.probeSuccesses += 1;
  }

  private removeAt(index: number): void {
    const [entry] = this.queue.splice(index, 1);
    if (entry) this.ids.delete(entry.id);
    this.recorded();
  }

  private shift(): void {
    const entry = this.queue.shift();
    if (entry) this.ids.delete(entry.id);
    this.headFailures = 0;
    this.probeSuccesses = 0;
    this.recorded();
  }

  // Keeps the spool file from growing without bound while entries leave the queue.
  private recorded(): void {
    if (!this.spool) return;
    this.recordedSinceCompaction += 1;
    // Rewriting costs the whole pending set, so it waits until recorded lines dominate the file.
    if (this.queue.length === 0 || this.recordedSinceCompaction >= Math.max(1024, this.queue.length)) {
      this.recordedSinceCompaction = 0;
      void this.spool
        .compact(() => this.queue)
        .catch(() => {
          // The file keeps recorded lines a while longer; replaying them is harmless (idempotent).
        });
    }
  }

  private idle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private drop(error: FlagTrailError, entry: AuditEntry | undefined): void {
    try {
      this.options.onDrop(error, entry);
    } catch {
      // onDrop is the last place the loss can be reported; it must not break the trail.
    }
  }

  /**
   * Retries now and waits until the queue is empty or `timeoutMs` has passed, whichever comes
   * first. Resolves with the number of entries still waiting.
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.queue.length === 0 && !this.draining) return 0;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    let deadline: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      if (Number.isFinite(timeoutMs)) {
        deadline = setTimeout(resolve, Math.max(0, timeoutMs));
        deadline.unref?.();
      }
      void this.drain();
    });
    if (deadline !== undefined) clearTimeout(deadline);
    return this.queue.length;
  }

  /**
   * Flushes within `timeoutMs`, then stops retrying. What is still waiting stays in the spool for
   * the next start; without a spool it is reported to `onDrop` as `CLOSED`.
   */
  async close(timeoutMs: number): Promise<CloseResult> {
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const pending = this.queue.length;
    if (this.spool) {
      await this.spool.close(this.queue);
    } else {
      for (const entry of this.queue.splice(0)) {
        this.ids.delete(entry.id);
        this.drop(
          new FlagTrailError(
            'CLOSED',
            `closed with the audit store "${this.store.name}" still failing; the entry was not recorded (configure retry.spool to keep it)`,
          ),
          entry,
        );
      }
    }
    return { pending };
  }
}
