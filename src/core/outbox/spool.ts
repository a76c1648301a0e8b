import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { FlagTrailError } from '../errors.js';
import type { AuditEntry } from '../types.js';

// Paths held by spools in this process, shared by every copy of the package (CJS next to ESM), so
// two trails cannot interleave lines in one file.
const HELD_KEY = Symbol.for('flagtrail.spool.held');
const held: Set<string> =
  ((globalThis as Record<symbol, unknown>)[HELD_KEY] as Set<string> | undefined) ?? new Set<string>();
(globalThis as Record<symbol, unknown>)[HELD_KEY] = held;

/** What a spool file held when it was opened. */
export interface SpoolContents {
  /** Entries still to record, in the order they were spooled, each once. */
  entries: AuditEntry[];
  /** Lines that could not be read back (a torn last line after a crash, a damaged file). */
  unreadable: Array<{ line: number; error: FlagTrailError }>;
}

function spoolError(message: string, cause?: unknown): FlagTrailError {
  return new FlagTrailError('SPOOL_ERROR', message, cause === undefined ? undefined : { cause });
}

/** Revives one spooled line: JSON with `createdAt` back as a `Date`, checked enough to be recorded. */
export function parseSpoolLine(text: string): AuditEntry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FlagTrailError('MALFORMED_ENTRY', `spool line is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FlagTrailError('MALFORMED_ENTRY', 'spool line is not an entry object');
  }
  const entry = value as Record<string, unknown>;
  const createdAt = typeof entry.createdAt === 'string' ? new Date(entry.createdAt) : undefined;
  if (
    typeof entry.id !== 'string' ||
    entry.version !== 1 ||
    typeof entry.feature !== 'string' ||
    typeof entry.operation !== 'string' ||
    entry.before === null ||
    typeof entry.before !== 'object' ||
    entry.after === null ||
    typeof entry.after !== 'object' ||
    !Array.isArray(entry.changes) ||
    entry.actor === null ||
    typeof entry.actor !== 'object' ||
    createdAt === undefined ||
    Number.isNaN(createdAt.getTime())
  ) {
    throw new FlagTrailError(
      'MALFORMED_ENTRY',
      'spool line is missing entry fields or has an invalid createdAt',
    );
  }
  return { ...(entry as unknown as AuditEntry), createdAt };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An append-only JSONL file of entries waiting to be recorded. One writer at a time: a
 * `<file>.lock` holds the owner's pid; a lock left by a dead process (a crash, SIGKILL) is taken
 * over. Appends are group-committed: every entry handed in while a write is in flight goes into
 * the next write, and `append` resolves only after `fdatasync` has covered its line.
 */
export class Spool {
  readonly file: string;
  private readonly lockFile: string;
  private handle: FileHandle | undefined;
  private io: Promise<void> = Promise.resolve();
  private batch: { lines: string[]; waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> } =
    {
      lines: [],
      waiters: [],
    };
  private batchScheduled = false;
  private closed = false;
  /** Lines in the file, pending or already recorded. */
  private lines = 0;

  private constructor(file: string) {
    this.file = file;
    this.lockFile = `${file}.lock`;
  }

  /**
   * Takes the spool at `file` (creating it and its directory if needed), reads what a previous
   * process left in it and rewrites it with exactly those entries. Synchronous, so a trail has its
   * replay queue the moment it is created.
   */
  static open(file: string): { spool: Spool; contents: SpoolContents } {
    if (typeof file !== 'string' || file.length === 0) {
      throw new FlagTrailError('INVALID_OPTION', 'retry.spool must be a file path');
    }
    const resolved = path.resolve(file);
    if (held.has(resolved)) {
      throw spoolError(`spool ${resolved} is already used by another audited adapter in this process`);
    }
    const spool = new Spool(resolved);
    try {
      fs.mkdirSync(path.dirname(resolved), { recursive: true });
    } catch (error) {
      throw spoolError(
        `cannot create the directory of spool ${resolved}: ${(error as Error).message}`,
        error,
      );
    }
    spool.lock();
    held.add(resolved);
    try {
      const contents = spool.load();
      spool.rewriteSync(contents.entries);
      return { spool, contents };
    } catch (error) {
      held.delete(resolved);
      spool.unlock();
      throw error instanceof FlagTrailError
        ? error
        : spoolError(`cannot read spool ${resolved}: ${(error as Error).message}`, error);
    }
  }

  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(this.lockFile, String(process.pid), { flag: 'wx' });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw spoolError(`cannot lock spool ${this.file}: ${(error as Error).message}`, error);
        }
      }
      const owner = Number.parseInt(fs.readFileSync(this.lockFile, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw spoolError(
          `spool ${this.file} is in use by process ${owner}; give each process its own spool file`,
        );
      }
      // The owner is gone without releasing the lock (a crash): take the spool over.
      fs.rmSync(this.lockFile, { force: true });
    }
    throw spoolError(`cannot lock spool ${this.file}: another process keeps taking it`);
  }

  private unlock(): void {
    try {
      if (fs.readFileSync(this.lockFile, 'utf8') === String(process.pid)) fs.rmSync(this.lockFile);
    } catch {
      // Already gone: nothing to release.
    }
  }

  private load(): SpoolContents {
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const byId = new Map<string, AuditEntry>();
    const unreadable: SpoolContents['unreadable'] = [];
    const rows = text.split('\n');
    rows.forEach((row, i) => {
      if (row.trim().length === 0) return;
      try {
        const entry = parseSpoolLine(row);
        if (!byId.has(entry.id)) byId.set(entry.id, entry);
      } catch (error) {
        unreadable.push({ line: i + 1, error: error as FlagTrailError });
      }
    });
    return { entries: [...byId.values()], unreadable };
  }

  // Replaces the file atomically: a crash leaves either the old file or the new one, never half.
  private rewriteSync(entries: AuditEntry[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      if (entries.length > 0) fs.writeSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    this.lines = entries.length;
  }

  private async file_(): Promise<FileHandle> {
    this.handle ??= await open(this.file, 'a');
    return this.handle;
  }

  private enqueueIo(op: () => Promise<void>): Promise<void> {
    const run = this.io.then(op);
    this.io = run.catch(() => undefined);
    return run;
  }

  /** Appends `entry`; resolves once its line is on disk (fdatasync). */
  append(entry: AuditEntry): Promise<void> {
    if (this.closed) return Promise.reject(new FlagTrailError('CLOSED', `spool ${this.file} is closed`));
    const line = `${JSON.stringify(entry)}\n`;
    return new Promise<void>((resolve, reject) => {
      this.batch.lines.push(line);
      this.batch.waiters.push({ resolve, reject });
      if (this.batchScheduled) return;
      this.batchScheduled = true;
      void this.enqueueIo(async () => {
        const { lines, waiters } = this.batch;
        this.batch = { lines: [], waiters: [] };
        this.batchScheduled = false;
        try {
          const handle = await this.file_();
          await handle.write(lines.join(''));
          await handle.datasync();
          this.lines += lines.length;
          for (const w of waiters) w.resolve();
        } catch (error) {
          const failure = spoolError(`cannot write spool ${this.file}: ${(error as Error).message}`, error);
          for (const w of waiters) w.reject(failure);
        }
      });
    });
  }

  /**
   * Drops recorded entries from the file: `pending()` (read when the rewrite runs) is what stays.
   * Empties the file in place when nothing is pending; otherwise rewrites it atomically, which is
   * worth it only once recorded lines dominate, so callers decide when.
   */
  compact(pending: () => AuditEntry[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.enqueueIo(async () => {
      const keep = pending();
      if (keep.length === this.lines) return;
      if (keep.length === 0) {
        const handle = await this.file_();
        await handle.truncate(0);
        await handle.datasync();
        this.lines = 0;
        return;
      }
      await this.handle?.close();
      this.handle = undefined;
      this.rewriteSync(keep);
    });
  }

  /** Lines in the file, including entries recorded since the last compaction. */
  get size(): number {
    return this.lines;
  }

  /** Waits for pending writes, compacts to `pending`, closes the file and releases the lock. */
  async close(pending: AuditEntry[]): Promise<void> {
    if (this.closed) return;
    await this.compact(() => pending).catch(() => undefined);
    this.closed = true;
    await this.io;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    held.delete(this.file);
    this.unlock();
  }
}
