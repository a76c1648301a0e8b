import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAuditStore } from '../../memory/memory-audit-store.js';
import { MemoryFlagAdapter } from '../../memory/memory-flag-adapter.js';
import { makeAuditEntry } from '../../testing/entries.js';
import { withActor } from '../actor-context.js';
import { type AuditedAdapter, withAuditTrail } from '../audited-adapter.js';
import type { AuditEntry, AuditStore } from '../types.js';
import { backoffDelay } from './outbox.js';
import { parseSpoolLine, Spool } from './spool.js';

class FlakyStore implements AuditStore {
  readonly name = 'flaky';
  readonly inner = new MemoryAuditStore();
  down = true;
  async record(entry: AuditEntry): Promise<void> {
    if (this.down) throw new Error('store down');
    await this.inner.record(entry);
  }
  query(q: Parameters<AuditStore['query']>[0]) {
    return this.inner.query(q);
  }
}

let dir: string;
let file: string;
const open: AuditedAdapter[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flagtrail-spool-'));
  file = path.join(dir, 'sub', 'outbox.jsonl');
});

afterEach(async () => {
  for (const a of open.splice(0)) await a.close({ timeoutMs: 0 });
  fs.rmSync(dir, { recursive: true, force: true });
});

function trail(store: AuditStore, onDrop = vi.fn(), inner = new MemoryFlagAdapter()) {
  const audited = withAuditTrail(inner, {
    store,
    onError: () => undefined,
    retry: { spool: file, baseDelayMs: 60_000, maxDelayMs: 60_000, onDrop },
  });
  open.push(audited);
  return { audited, onDrop, inner };
}

function lines(): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describe('spool', () => {
  it('keeps failed entries on disk before the write resolves, and the next trail replays them', async () => {
    const store = new FlakyStore();
    const first = trail(store).audited;
    await withActor({ id: 'ada' }, () => first.enable('f', 'actors', '1'), { reason: 'r' });
    await first.enable('f', 'percentageOfTime', 5);
    // On disk already: a crash from here on loses nothing.
    expect(lines()).toHaveLength(2);
    expect(await first.close({ timeoutMs: 0 })).toEqual({ pending: 2 });
    expect(lines()).toHaveLength(2);

    const second = trail(store).audited;
    const pending = second.pendingEntries();
    expect(pending.map((e) => e.value)).toEqual(['1', 5]);
    expect(pending[0]!.createdAt).toBeInstanceOf(Date);
    expect(pending[0]!.actor).toEqual({ id: 'ada' });
    expect(pending[0]!.context).toEqual({ reason: 'r' });
    store.down = false;
    expect(await second.flush()).toBe(0);
    const stored = (await store.inner.query({})).reverse();
    expect(stored.map((e) => e.id)).toEqual(pending.map((e) => e.id));
    expect(stored[0]!.createdAt).toEqual(pending[0]!.createdAt);
    // Compacted once everything is recorded.
    await second.close();
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });

  it('group-commits concurrent writes and holds each entry once', async () => {
    const store = new FlakyStore();
    const { audited } = trail(store);
    await Promise.all(Array.from({ length: 300 }, (_, i) => audited.enable(`f${i % 5}`, 'actors', `m${i}`)));
    expect(lines()).toHaveLength(300);
    expect(new Set(lines().map((l) => JSON.parse(l).id)).size).toBe(300);
    store.down = false;
    expect(await audited.flush()).toBe(0);
    expect(store.inner.size).toBe(300);
  });

  it('skips a torn last line (a crash in the middle of an append) and reports it to onDrop', async () => {
    const good = makeAuditEntry({ feature: 'a' });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(good)}\n${JSON.stringify(makeAuditEntry()).slice(0, 40)}`);
    const store = new FlakyStore();
    const { audited, onDrop } = trail(store);
    expect(audited.pendingEntries().map((e) => e.id)).toEqual([good.id]);
    expect(onDrop).toHaveBeenCalledTimes(1);
    expect(onDrop.mock.calls[0]![0]).toMatchObject({ code: 'MALFORMED_ENTRY' });
    expect(onDrop.mock.calls[0]![0].message).toMatch(/line 2/);
    expect(onDrop.mock.calls[0]![1]).toBeUndefined();
    // The damaged line is gone from the file; the good one stays until recorded.
    expect(lines()).toHaveLength(1);
  });

  it('replays an entry spooled twice once', async () => {
    const entry = makeAuditEntry();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(entry)}\n${JSON.stringify(entry)}\n`);
    const store = new FlakyStore();
    store.down = false;
    const { audited } = trail(store);
    expect(audited.pendingEntries()).toHaveLength(1);
    expect(await audited.flush()).toBe(0);
    expect(store.inner.size).toBe(1);
  });

  it('allows one trail per spool file: in this process and in another live process', async () => {
    trail(new FlakyStore());
    expect(() => trail(new FlakyStore())).toThrow(expect.objectContaining({ code: 'SPOOL_ERROR' }));
    await open.splice(0)[0]!.close();
    // The parent of this test process is alive and is not us.
    fs.writeFileSync(`${file}.lock`, String(process.ppid));
    expect(() => trail(new FlakyStore())).toThrow(
      expect.objectContaining({
        code: 'SPOOL_ERROR',
        message: expect.stringContaining(String(process.ppid)),
      }),
    );
  });

  it('takes over the lock of a dead process', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Larger than any pid the kernel hands out (pid_max is at most 2^22).
    fs.writeFileSync(`${file}.lock`, String(2 ** 22 + 1));
    expect(() => trail(new FlakyStore())).not.toThrow();
    expect(fs.readFileSync(`${file}.lock`, 'utf8')).toBe(String(process.pid));
  });

  it('releases the lock on close', async () => {
    const { audited } = trail(new FlakyStore());
    await audited.close();
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    expect(() => trail(new FlakyStore())).not.toThrow();
  });

  it('refuses a spool it cannot create, with SPOOL_ERROR', () => {
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, 'x');
    expect(() =>
      withAuditTrail(new MemoryFlagAdapter(), { retry: { spool: path.join(blocker, 'outbox.jsonl') } }),
    ).toThrow(expect.objectContaining({ code: 'SPOOL_ERROR' }));
  });

  it('compacts a long spool once recorded lines dominate', async () => {
    const store = new FlakyStore();
    const { audited } = trail(store);
    // Concurrent, so appends share fdatasyncs.
    await Promise.all(
      Array.from({ length: 1100 }, (_, i) => audited.enable(`f${i % 50}`, 'actors', `m${i}`)),
    );
    expect(lines()).toHaveLength(1100);
    let budget = 1030;
    const record = store.record.bind(store);
    store.record = async (entry) => {
      if (budget-- <= 0) throw new Error('down again');
      return record(entry);
    };
    store.down = false;
    expect(await audited.flush({ timeoutMs: 300 })).toBe(70);
    await audited.close({ timeoutMs: 0 });
    // Rewritten after 1024 recorded entries, then left with what is still pending.
    expect(lines().length).toBeLessThanOrEqual(1100 - 1024);
    expect(new Set(lines().map((l) => JSON.parse(l).id))).toEqual(
      new Set(audited.pendingEntries().map((e) => e.id)),
    );
  });

  it('parseSpoolLine revives createdAt and refuses what is not an entry', () => {
    const entry = makeAuditEntry();
    expect(parseSpoolLine(JSON.stringify(entry))).toEqual(entry);
    for (const bad of [
      '',
      '{',
      '[]',
      'null',
      '{"id":"x"}',
      JSON.stringify({ ...entry, createdAt: 'nope' }),
    ]) {
      expect(() => parseSpoolLine(bad)).toThrow(expect.objectContaining({ code: 'MALFORMED_ENTRY' }));
    }
  });

  it('Spool.open checks its path', () => {
    expect(() => Spool.open('')).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});

describe('backoffDelay', () => {
  it('doubles from base to max, with equal jitter', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 100, 1000, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(3, 100, 1000, () => 0)).toBe(200);
    expect(backoffDelay(10_000, 100, 1000, () => 0.5)).toBe(750);
  });
});
