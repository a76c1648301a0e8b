import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryAuditStore } from '../memory/memory-audit-store.js';
import { MemoryFlagAdapter } from '../memory/memory-flag-adapter.js';
import { withActor } from './actor-context.js';
import { type AuditedAdapter, type FlagChange, withAuditTrail } from './audited-adapter.js';
import { FlagTrailError } from './errors.js';
import { defaultGates } from './gates.js';
import type { AuditEntry, AuditStore, FlagAdapter, GateKey, TransactionRunner } from './types.js';

function setup(options: Parameters<typeof withAuditTrail>[1] = {}) {
  const inner = new MemoryFlagAdapter();
  const store = new MemoryAuditStore();
  const audited = withAuditTrail(inner, { store, ...options });
  return { inner, store, audited };
}

async function all(store: AuditStore): Promise<AuditEntry[]> {
  return (await store.query({ limit: 1000 })).reverse();
}

const ada = { id: 'ada', label: 'Ada', type: 'user' };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('withAuditTrail: recording', () => {
  it('records one entry per effective write with state before and after, diff, actor and context', async () => {
    const { audited, store } = setup();
    await withActor(ada, () => audited.enable('checkout', 'actors', '42'), { reason: 'beta' });
    const [entry] = await all(store);
    expect(entry).toMatchObject({
      version: 1,
      feature: 'checkout',
      operation: 'enable',
      gate: 'actors',
      value: '42',
      before: { exists: false, gates: defaultGates() },
      after: { exists: true, gates: { ...defaultGates(), actors: ['42'] } },
      actor: ada,
      context: { reason: 'beta' },
      adapter: 'memory',
    });
    expect(entry!.changes).toEqual([
      { op: 'add', path: '/gates/actors/42', value: true },
      { op: 'replace', path: '/exists', value: true },
    ]);
    expect(entry!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(entry!.createdAt).toBeInstanceOf(Date);
  });

  it('records every operation with its gate and value', async () => {
    const { audited, store } = setup();
    await audited.add('f');
    await audited.enable('f', 'percentageOfActors', 10);
    await audited.enable('f', 'percentageOfActors', 25);
    await audited.enable('f', 'groups', 'admins');
    await audited.disable('f', 'groups', 'admins');
    await audited.enable('f', 'expression', { Equal: [{ Property: ['plan'] }, 'pro'] });
    await audited.clear('f');
    await audited.enable('f', 'boolean', true);
    await audited.remove('f');
    const entries = await all(store);
    expect(entries.map((e) => [e.operation, e.gate, e.value])).toEqual([
      ['add', null, null],
      ['enable', 'percentageOfActors', 10],
      ['enable', 'percentageOfActors', 25],
      ['enable', 'groups', 'admins'],
      ['disable', 'groups', 'admins'],
      ['enable', 'expression', { Equal: [{ Property: ['plan'] }, 'pro'] }],
      ['clear', null, null],
      ['enable', 'boolean', true],
      ['remove', null, null],
    ]);
    expect(entries[2]!.changes).toEqual([{ op: 'replace', path: '/gates/percentageOfActors', value: 25 }]);
    // Consecutive entries of one flag chain: each starts where the previous ended.
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.before).toEqual(entries[i - 1]!.after);
  });

  it('drops no-op writes: repeat enable, add of an existing flag, disable of an absent member, clear/remove of nothing', async () => {
    const { audited, store } = setup();
    await audited.enable('f', 'actors', '1');
    await audited.enable('f', 'actors', '1');
    await audited.add('f');
    await audited.disable('f', 'actors', 'absent');
    await audited.disable('f', 'groups', 'absent');
    await audited.disable('f', 'percentageOfTime', 0);
    await audited.clear('missing');
    await audited.remove('missing');
    await audited.disable('f', 'expression', {});
    expect(await all(store)).toHaveLength(1);
  });

  it('attributes writes outside withActor to the system actor, configurable', async () => {
    const first = setup();
    await first.audited.enable('f', 'boolean', true);
    expect((await all(first.store))[0]!.actor).toEqual({ id: 'system', type: 'system' });
    const second = setup({ systemActor: { id: 'cron', type: 'job', label: 'nightly' } });
    await second.audited.add('f');
    expect((await all(second.store))[0]!.actor).toEqual({ id: 'cron', type: 'job', label: 'nightly' });
    expect((await all(second.store))[0]!.context).toEqual({});
  });

  it('reads the actor when the write is called, not when it is awaited', async () => {
    const { audited, store } = setup();
    const pending = withActor(ada, () => audited.enable('f', 'actors', '1'));
    await withActor({ id: 'bob' }, async () => {
      await pending;
    });
    expect((await all(store))[0]!.actor.id).toBe('ada');
  });

  it('attributes 1,000 concurrent writers correctly (0 misattributed)', async () => {
    const { audited, store } = setup();
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        withActor({ id: `user-${i}` }, async () => {
          await Promise.resolve();
          await audited.enable(`flag-${i % 7}`, 'actors', `member-${i}`);
        }),
      ),
    );
    const entries = await all(store);
    expect(entries).toHaveLength(1000);
    const misattributed = entries.filter((e) => e.value !== `member-${e.actor.id.slice(5)}`);
    expect(misattributed).toEqual([]);
    // Writes to one flag are serialized, so its entries chain even under concurrency.
    for (let f = 0; f < 7; f++) {
      const chain = entries.filter((e) => e.feature === `flag-${f}`);
      for (let i = 1; i < chain.length; i++) expect(chain[i]!.before).toEqual(chain[i - 1]!.after);
    }
  });

  it('passes reads straight through and reads state without listing every flag', async () => {
    const { audited, inner } = setup();
    await inner.enable('f', 'actors', '1');
    const features = vi.spyOn(inner, 'features');
    const get = vi.spyOn(inner, 'get');
    expect(await audited.get('f')).toEqual(await inner.get('f'));
    expect(await audited.getMulti(['f'])).toEqual(await inner.getMulti(['f']));
    expect(await audited.getAll()).toEqual(await inner.getAll());
    get.mockClear();
    const state = vi.spyOn(inner, 'state');
    await audited.enable('f', 'actors', '2');
    expect(features).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
    expect(state).toHaveBeenCalledTimes(2);
  });

  it('refuses bad input before touching the adapter or the store', async () => {
    const { audited, inner, store } = setup();
    const enable = vi.spyOn(inner, 'enable');
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => audited.enable('', 'boolean', true), 'INVALID_FEATURE'],
      [() => audited.enable('f', 'bogus' as GateKey, true), 'INVALID_GATE'],
      [() => audited.enable('f', 'percentageOfActors', 150), 'INVALID_VALUE'],
      [() => audited.enable('f', 'actors', ''), 'INVALID_VALUE'],
      [() => audited.enable('f', 'expression', 'x' as unknown as { a: 1 }), 'INVALID_EXPRESSION'],
      [() => audited.add({} as unknown as string), 'INVALID_FEATURE'],
      [() => audited.history({ limit: 0 }), 'INVALID_QUERY'],
    ];
    for (const [call, code] of cases)
      await expect(call()).rejects.toMatchObject({ name: 'FlagTrailError', code });
    expect(enable).not.toHaveBeenCalled();
    expect(await inner.features()).toEqual([]);
    expect(await all(store)).toEqual([]);
  });
});

describe('withAuditTrail: failure policy', () => {
  function failingStore(): AuditStore & { fail: boolean; recorded: AuditEntry[] } {
    return {
      name: 'flaky',
      fail: true,
      recorded: [],
      async record(entry) {
        if (this.fail) throw new Error('connection reset');
        this.recorded.push(entry);
      },
      async query() {
        return [];
      },
    };
  }

  it('fail-open: the write stands and onError gets the error and the entry', async () => {
    const store = failingStore();
    const onError = vi.fn();
    const inner = new MemoryFlagAdapter();
    const audited = withAuditTrail(inner, { store, onError });
    await audited.enable('f', 'actors', '1');
    expect((await inner.get('f')).actors).toEqual(['1']);
    expect(onError).toHaveBeenCalledTimes(1);
    const [error, entry] = onError.mock.calls[0]!;
    expect(error).toBeInstanceOf(FlagTrailError);
    expect(error).toMatchObject({ code: 'AUDIT_FAILED' });
    expect(error.message).toContain('connection reset');
    expect(error.cause).toBeInstanceOf(Error);
    expect(entry).toMatchObject({ feature: 'f', operation: 'enable', value: '1' });
  });

  it('fail-open by default writes one warning line to stderr', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const audited = withAuditTrail(new MemoryFlagAdapter(), { store: failingStore() });
    await audited.add('f');
    expect(write).toHaveBeenCalledTimes(1);
    expect(String(write.mock.calls[0]![0])).toMatch(
      /^flagtrail: audit entry .* \(add f by system\) was not recorded: .*connection reset\n$/,
    );
  });

  it('a throwing onError never fails the write', async () => {
    const audited = withAuditTrail(new MemoryFlagAdapter(), {
      store: failingStore(),
      onError: () => {
        throw new Error('boom');
      },
    });
    await expect(audited.add('f')).resolves.toBeUndefined();
  });

  it('fail-closed: the write is rejected and the flag put back as it was', async () => {
    const store = failingStore();
    const inner = new MemoryFlagAdapter();
    const audited = withAuditTrail(inner, { store, failClosed: true });
    store.fail = false;
    await audited.enable('f', 'actors', '1');
    await audited.enable('f', 'percentageOfTime', 5);
    await audited.enable('g', 'boolean', true);
    const before = await inner.getAll();
    store.fail = true;
    await expect(audited.enable('f', 'boolean', true)).rejects.toMatchObject({ code: 'AUDIT_FAILED' });
    await expect(audited.remove('g')).rejects.toMatchObject({ code: 'AUDIT_FAILED' });
    await expect(audited.enable('new', 'actors', '9')).rejects.toMatchObject({ code: 'AUDIT_FAILED' });
    expect(await inner.getAll()).toEqual(before);
    expect(store.recorded).toHaveLength(3);
  });

  it('fail-closed uses the adapter transaction when it shares one with the store', async () => {
    const inner = new MemoryFlagAdapter();
    const store = failingStore();
    const runs: string[] = [];
    const runner: TransactionRunner = async (fn) => {
      runs.push('begin');
      try {
        const result = await fn({ adapter: inner, store });
        runs.push('commit');
        return result;
      } catch (error) {
        runs.push('rollback');
        throw error;
      }
    };
    const transactional: FlagAdapter = Object.assign(Object.create(inner) as FlagAdapter, {
      transactionWith: (s: AuditStore) => (s === store ? runner : undefined),
    });
    const audited = withAuditTrail(transactional, { store, failClosed: true });
    await expect(audited.add('f')).rejects.toMatchObject({ code: 'AUDIT_FAILED' });
    store.fail = false;
    await audited.enable('f', 'actors', '1');
    expect(runs).toEqual(['begin', 'rollback', 'begin', 'commit']);
    expect(store.recorded).toHaveLength(1);
  });
});

describe('withAuditTrail: store inference and options', () => {
  it('uses an explicit store over the adapter default', async () => {
    const store = new MemoryAuditStore();
    const adapter = new MemoryFlagAdapter();
    const audited = withAuditTrail(adapter, { store });
    expect(audited.store).toBe(store);
    expect(audited.store).not.toBe(adapter.defaultAuditStore());
  });

  it('infers the store from the adapter', async () => {
    const adapter = new MemoryFlagAdapter();
    const audited = withAuditTrail(adapter);
    expect(audited.store).toBe(adapter.defaultAuditStore());
    await audited.add('f');
    expect(await audited.history()).toHaveLength(1);
  });

  it('names the adapter and shows the store option when nothing can be inferred', () => {
    const { defaultAuditStore: _drop, ...bare } = Object.fromEntries(
      Object.entries(Object.getOwnPropertyDescriptors(MemoryFlagAdapter.prototype)).map(([k]) => [
        k,
        () => undefined,
      ]),
    );
    const custom = { ...bare, name: 'redis-flags' } as unknown as FlagAdapter;
    expect(() => withAuditTrail(custom)).toThrow(
      expect.objectContaining({ code: 'NO_AUDIT_STORE', message: expect.stringContaining('redis-flags') }),
    );
    expect(() => withAuditTrail(custom)).toThrow(/\{ store/);
  });

  it('refuses to wrap an audited adapter again', () => {
    const once = withAuditTrail(new MemoryFlagAdapter());
    expect(() => withAuditTrail(once)).toThrow(expect.objectContaining({ code: 'ALREADY_AUDITED' }));
  });

  it('validates its options', () => {
    const adapter = new MemoryFlagAdapter();
    const bad: Array<[unknown, string]> = [
      [{ store: {} }, 'INVALID_OPTION'],
      [{ store: { record: () => undefined } }, 'INVALID_OPTION'],
      [{ systemActor: { id: '' } }, 'INVALID_ACTOR'],
      [{ onError: 'log' }, 'INVALID_OPTION'],
      [{ failClosed: 'yes' }, 'INVALID_OPTION'],
    ];
    for (const [options, code] of bad) {
      expect(() => withAuditTrail(adapter, options as Parameters<typeof withAuditTrail>[1])).toThrow(
        expect.objectContaining({ code }),
      );
    }
    expect(() => withAuditTrail(null as unknown as FlagAdapter)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});

describe('withAuditTrail: history and subscribe', () => {
  it('refuses what a store returns when it is not a list of entries (MALFORMED_ENTRY)', async () => {
    const good = new MemoryAuditStore();
    const broken: unknown[] = [
      'nope',
      [null],
      [{ id: 'x' }],
      [
        {
          ...(await (async () => {
            const { audited, store } = setup();
            await audited.add('f');
            return (await all(store))[0]!;
          })()),
          createdAt: 'yesterday',
        },
      ],
    ];
    for (const result of broken) {
      const store: AuditStore = {
        name: 'weird',
        record: (e) => good.record(e),
        query: async () => result as AuditEntry[],
      };
      const audited = withAuditTrail(new MemoryFlagAdapter(), { store });
      await expect(audited.history()).rejects.toMatchObject({
        name: 'FlagTrailError',
        code: 'MALFORMED_ENTRY',
      });
    }
  });

  it('queries the store newest first with filters', async () => {
    const { audited } = setup();
    await withActor(ada, () => audited.enable('a', 'actors', '1'));
    await audited.enable('b', 'actors', '1');
    await withActor(ada, () => audited.enable('a', 'actors', '2'));
    const mine = await audited.history({ actorId: 'ada' });
    expect(mine.map((e) => e.value)).toEqual(['2', '1']);
    expect(await audited.history({ feature: 'b' })).toHaveLength(1);
  });

  it('notifies subscribers of each effective change before the write resolves', async () => {
    const { audited } = setup();
    const seen: FlagChange[] = [];
    const off = audited.subscribe((change) => seen.push(change));
    await audited.enable('f', 'actors', '1');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ feature: 'f', after: { exists: true, gates: { actors: ['1'] } } });
    await audited.enable('f', 'actors', '1');
    expect(seen).toHaveLength(1);
    off();
    await audited.enable('f', 'actors', '2');
    expect(seen).toHaveLength(1);
  });

  it('a throwing subscriber is reported and never fails the write', async () => {
    const onError = vi.fn();
    const audited: AuditedAdapter = withAuditTrail(new MemoryFlagAdapter(), { onError });
    audited.subscribe(() => {
      throw new Error('listener bug');
    });
    await expect(audited.add('f')).resolves.toBeUndefined();
    expect(onError.mock.calls[0]![0].message).toContain('listener bug');
  });
});

/** A memory store that can be switched to fail, hang or refuse, and counts what reaches it. */
class SwitchableStore implements AuditStore {
  readonly name = 'switchable';
  readonly inner = new MemoryAuditStore();
  mode: 'ok' | 'fail' | 'hang' | 'refuse' = 'ok';
  calls = 0;
  readonly hung: Array<() => void> = [];
  readonly failedIds: string[] = [];

  async record(entry: AuditEntry): Promise<void> {
    this.calls += 1;
    if (this.mode === 'fail') {
      this.failedIds.push(entry.id);
      throw new Error('ECONNREFUSED');
    }
    if (this.mode === 'refuse') throw new FlagTrailError('MALFORMED_ENTRY', 'store says no');
    if (this.mode === 'hang') {
      // Lands later, like a query stuck on a stalled connection that finally goes through.
      await new Promise<void>((resolve) => this.hung.push(resolve));
    }
    await this.inner.record(entry);
  }

  query(query: Parameters<AuditStore['query']>[0]) {
    return this.inner.query(query);
  }
}

describe('withAuditTrail: retry outbox (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function retrying(extra: { auditTimeoutMs?: number; capacity?: number } = {}) {
    const store = new SwitchableStore();
    const inner = new MemoryFlagAdapter();
    const onError = vi.fn();
    const onDrop = vi.fn();
    const audited = withAuditTrail(inner, {
      store,
      onError,
      retry: { baseDelayMs: 100, maxDelayMs: 1000, onDrop, capacity: extra.capacity },
      auditTimeoutMs: extra.auditTimeoutMs,
    });
    return { store, inner, audited, onError, onDrop };
  }

  it('queues entries while the store fails and records each exactly once, in order, when it is back', async () => {
    vi.useFakeTimers();
    const { store, inner, audited, onError } = retrying();
    store.mode = 'fail';
    for (let i = 0; i < 20; i++) await audited.enable(`f${i % 3}`, 'actors', `a${i}`);
    expect((await inner.get('f0')).actors).toHaveLength(7);
    expect(audited.pendingEntries()).toHaveLength(20);
    expect(audited.pendingEntries().map((e) => e.value)).toEqual(
      Array.from({ length: 20 }, (_, i) => `a${i}`),
    );
    // One report for the outage, not one per entry.
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatchObject({ code: 'AUDIT_FAILED' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(store.inner.size).toBe(0);
    store.mode = 'ok';
    await vi.advanceTimersByTimeAsync(1000);
    expect(audited.pendingEntries()).toEqual([]);
    const entries = await all(store);
    expect(entries).toHaveLength(20);
    expect(new Set(entries.map((e) => e.id)).size).toBe(20);
    for (let f = 0; f < 3; f++) {
      const chain = entries.filter((e) => e.feature === `f${f}`);
      for (let i = 1; i < chain.length; i++) expect(chain[i]!.before).toEqual(chain[i - 1]!.after);
    }
  });

  it('sends new entries behind queued ones, so the store never holds a later entry without an earlier one', async () => {
    vi.useFakeTimers();
    const { store, audited } = retrying();
    store.mode = 'fail';
    await audited.enable('f', 'actors', '1');
    store.mode = 'ok';
    await audited.enable('f', 'actors', '2');
    // The store answers again, but the second entry waits behind the first.
    expect(store.inner.size).toBe(0);
    expect(audited.pendingEntries().map((e) => e.value)).toEqual(['1', '2']);
    await vi.advanceTimersByTimeAsync(100);
    expect((await all(store)).map((e) => e.value)).toEqual(['1', '2']);
  });

  it('backs off exponentially up to maxDelayMs, with jitter between half and the full delay', async () => {
    vi.useFakeTimers();
    const random = vi.spyOn(Math, 'random').mockReturnValue(1);
    const { store, audited } = retrying();
    store.mode = 'fail';
    await audited.add('f');
    const attemptsAfter = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms);
      return store.calls;
    };
    // Attempt 1 was the write itself; then 100, 200, 400, 800, 1000, 1000 ms later.
    expect(store.calls).toBe(1);
    expect(await attemptsAfter(99)).toBe(1);
    expect(await attemptsAfter(1)).toBe(2);
    expect(await attemptsAfter(199)).toBe(2);
    expect(await attemptsAfter(1)).toBe(3);
    expect(await attemptsAfter(400)).toBe(4);
    expect(await attemptsAfter(800)).toBe(5);
    expect(await attemptsAfter(1000)).toBe(6);
    expect(await attemptsAfter(1000)).toBe(7);
    random.mockReturnValue(0);
    // Jitter low end: half the capped delay (from the next scheduled attempt on).
    expect(await attemptsAfter(1000)).toBe(8);
    expect(await attemptsAfter(499)).toBe(8);
    expect(await attemptsAfter(1)).toBe(9);
  });

  it('reports entries over capacity to onDrop (OUTBOX_FULL); the writes still stand', async () => {
    vi.useFakeTimers();
    const { store, inner, audited, onDrop } = retrying({ capacity: 3 });
    store.mode = 'fail';
    for (let i = 0; i < 5; i++) await audited.enable('f', 'actors', String(i));
    expect((await inner.get('f')).actors).toEqual(['0', '1', '2', '3', '4']);
    expect(audited.pendingEntries()).toHaveLength(3);
    expect(onDrop).toHaveBeenCalledTimes(2);
    expect(onDrop.mock.calls.map(([error, entry]) => [error.code, entry.value])).toEqual([
      ['OUTBOX_FULL', '3'],
      ['OUTBOX_FULL', '4'],
    ]);
  });

  it('drops an entry the store refuses (MALFORMED_ENTRY) at once instead of blocking the queue', async () => {
    vi.useFakeTimers();
    const { store, audited, onDrop } = retrying();
    store.mode = 'fail';
    await audited.add('a');
    store.mode = 'refuse';
    await vi.advanceTimersByTimeAsync(100);
    expect(onDrop).toHaveBeenCalledTimes(1);
    expect(onDrop.mock.calls[0]![0]).toMatchObject({
      code: 'AUDIT_FAILED',
      cause: { code: 'MALFORMED_ENTRY' },
    });
    expect(audited.pendingEntries()).toEqual([]);
    store.mode = 'ok';
    await audited.add('b');
    expect(store.inner.size).toBe(1);
  });

  it('drops a poison entry the store keeps refusing while it records others, after probing the next one', async () => {
    vi.useFakeTimers();
    const { store, audited, onDrop } = retrying();
    store.mode = 'fail';
    await audited.add('poison');
    await audited.add('fine-1');
    await audited.add('fine-2');
    const poisonId = audited.pendingEntries()[0]!.id;
    store.mode = 'ok';
    // The store is back but refuses one entry with an error it does not mark as permanent.
    const record = store.record.bind(store);
    store.record = async (entry) => {
      if (entry.id === poisonId) throw new Error('document too large');
      return record(entry);
    };
    // Later entries go through while the poison entry is retried (max delay 1 s)...
    await vi.advanceTimersByTimeAsync(2000);
    expect(audited.pendingEntries().map((e) => e.feature)).toEqual(['poison']);
    expect(onDrop).not.toHaveBeenCalled();
    // ...and it is dropped only after failing 8 times in a row while 3 other entries went through.
    await audited.add('fine-3');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(audited.pendingEntries()).toEqual([]);
    expect((await all(store)).map((e) => e.feature)).toEqual(['fine-1', 'fine-2', 'fine-3']);
    expect(onDrop).toHaveBeenCalledTimes(1);
    expect(onDrop.mock.calls[0]![0].message).toMatch(/keeps refusing entry .* while it records others/);
    expect(onDrop.mock.calls[0]![1].id).toBe(poisonId);
  });

  it('does not drop the head when the probe shows the store is simply down', async () => {
    vi.useFakeTimers();
    const { store, audited, onDrop } = retrying();
    store.mode = 'fail';
    await audited.add('a');
    await audited.add('b');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(onDrop).not.toHaveBeenCalled();
    store.mode = 'ok';
    await vi.advanceTimersByTimeAsync(1000);
    expect((await all(store)).map((e) => e.feature)).toEqual(['a', 'b']);
  });

  it('a hung record times out (AUDIT_TIMEOUT), is retried, and is stored once when the late call lands too', async () => {
    vi.useFakeTimers();
    const { store, audited, onError } = retrying({ auditTimeoutMs: 1000 });
    store.mode = 'hang';
    let resolved = false;
    const write = audited.enable('f', 'boolean', true).then(() => {
      resolved = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await write;
    expect(onError.mock.calls[0]![0]).toMatchObject({ code: 'AUDIT_TIMEOUT' });
    store.mode = 'ok';
    await vi.advanceTimersByTimeAsync(100);
    for (const land of store.hung) land();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.inner.size).toBe(1);
    expect(audited.pendingEntries()).toEqual([]);
  });

  it('flush() retries at once and resolves with what is left; close() reports the rest to onDrop', async () => {
    vi.useFakeTimers();
    const { store, audited, onDrop } = retrying();
    expect(await audited.flush()).toBe(0);
    store.mode = 'fail';
    await audited.add('a');
    await audited.add('b');
    const flushed = audited.flush({ timeoutMs: 300 });
    await vi.advanceTimersByTimeAsync(300);
    expect(await flushed).toBe(2);
    const closing = audited.close({ timeoutMs: 200 });
    await vi.advanceTimersByTimeAsync(200);
    expect(await closing).toEqual({ pending: 2 });
    expect(audited.close()).toBe(closing);
    expect(onDrop.mock.calls.map(([error]) => error.code)).toEqual(['CLOSED', 'CLOSED']);
    await expect(audited.add('c')).rejects.toMatchObject({ code: 'CLOSED' });
    store.mode = 'ok';
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.inner.size).toBe(0);
  });

  it('close() records what it can before the deadline', async () => {
    vi.useFakeTimers();
    const { store, audited, onDrop } = retrying();
    store.mode = 'fail';
    await audited.add('a');
    store.mode = 'ok';
    expect(await audited.close({ timeoutMs: 50 })).toEqual({ pending: 0 });
    expect(store.inner.size).toBe(1);
    expect(onDrop).not.toHaveBeenCalled();
  });

  it('without retry, a hung record times out into onError and fail-closed rejects and restores the flag', async () => {
    vi.useFakeTimers();
    const store = new SwitchableStore();
    const onError = vi.fn();
    const open = withAuditTrail(new MemoryFlagAdapter(), { store, onError, auditTimeoutMs: 50 });
    store.mode = 'hang';
    const pending = open.add('f');
    await vi.advanceTimersByTimeAsync(50);
    await pending;
    expect(onError.mock.calls[0]![0]).toMatchObject({ code: 'AUDIT_TIMEOUT' });

    const inner = new MemoryFlagAdapter();
    const closed = withAuditTrail(inner, { store, failClosed: true, auditTimeoutMs: 50 });
    const rejected = expect(closed.enable('g', 'actors', '1')).rejects.toMatchObject({
      code: 'AUDIT_TIMEOUT',
    });
    await vi.advanceTimersByTimeAsync(50);
    await rejected;
    expect(await inner.features()).toEqual([]);
  });

  it('validates retry and auditTimeoutMs', () => {
    const adapter = new MemoryFlagAdapter();
    const bad: unknown[] = [
      { retry: 'yes' },
      { retry: [] },
      { retry: { capacity: 0 } },
      { retry: { capacity: 1.5 } },
      { retry: { baseDelayMs: Number.NaN } },
      { retry: { baseDelayMs: 100, maxDelayMs: 10 } },
      { retry: { spool: '' } },
      { retry: { onDrop: 'log' } },
      { retry: { capcity: 10 } },
      { retry: true, failClosed: true },
      { auditTimeoutMs: 0 },
      { auditTimeoutMs: -1 },
      { auditTimeoutMs: '5s' },
    ];
    for (const options of bad) {
      expect(() => withAuditTrail(adapter, options as Parameters<typeof withAuditTrail>[1])).toThrow(
        expect.objectContaining({ name: 'FlagTrailError', code: 'INVALID_OPTION' }),
      );
    }
    expect(() =>
      withAuditTrail(adapter, { retry: true, auditTimeoutMs: Number.POSITIVE_INFINITY }),
    ).not.toThrow();
  });
});

describe('withAuditTrail: cross-process lock hooks', () => {
  it('runs before-read, write and after-read inside adapter.lockFeature, on the adapter it passes', async () => {
    const inner = new MemoryFlagAdapter();
    const events: string[] = [];
    const locking: FlagAdapter = Object.assign(Object.create(inner) as FlagAdapter, {
      async lockFeature<T>(feature: string, fn: (adapter: FlagAdapter) => Promise<T>): Promise<T> {
        events.push(`lock ${feature}`);
        try {
          return await fn(inner);
        } finally {
          events.push(`unlock ${feature}`);
        }
      },
    });
    const store = new MemoryAuditStore();
    const record = vi.spyOn(store, 'record');
    const audited = withAuditTrail(locking, { store });
    const enable = vi.spyOn(inner, 'enable').mockImplementation(async (...args) => {
      events.push('write');
      return MemoryFlagAdapter.prototype.enable.apply(inner, args);
    });
    record.mockImplementation(async (entry) => {
      events.push('record');
      return MemoryAuditStore.prototype.record.call(store, entry);
    });
    await audited.enable('f', 'actors', '1');
    expect(events).toEqual(['lock f', 'write', 'unlock f', 'record']);
    expect(enable).toHaveBeenCalledTimes(1);
  });

  it('fail-closed records and undoes inside the lock', async () => {
    const inner = new MemoryFlagAdapter();
    const events: string[] = [];
    const locking: FlagAdapter = Object.assign(Object.create(inner) as FlagAdapter, {
      async lockFeature<T>(_feature: string, fn: (adapter: FlagAdapter) => Promise<T>): Promise<T> {
        events.push('lock');
        try {
          return await fn(inner);
        } finally {
          events.push('unlock');
        }
      },
    });
    const store = new SwitchableStore();
    store.mode = 'fail';
    const audited = withAuditTrail(locking, { store, failClosed: true });
    const remove = vi.spyOn(inner, 'remove');
    remove.mockImplementation(async (f) => {
      events.push('undo');
      return MemoryFlagAdapter.prototype.remove.call(inner, f);
    });
    await expect(audited.enable('f', 'actors', '1')).rejects.toMatchObject({ code: 'AUDIT_FAILED' });
    expect(events).toEqual(['lock', 'undo', 'unlock']);
  });

  it('calls the transaction scope lockFeature first inside the runner', async () => {
    const inner = new MemoryFlagAdapter();
    const store = new MemoryAuditStore();
    const events: string[] = [];
    const get = vi.spyOn(inner, 'get');
    const runner: TransactionRunner = (fn) =>
      fn({
        adapter: inner,
        store,
        async lockFeature(feature) {
          events.push(`lock ${feature}; reads so far: ${get.mock.calls.length}`);
        },
      });
    const transactional: FlagAdapter = Object.assign(Object.create(inner) as FlagAdapter, {
      transactionWith: () => runner,
    });
    await withAuditTrail(transactional, { store, failClosed: true }).add('f');
    expect(events).toEqual(['lock f; reads so far: 0']);
    expect(store.size).toBe(1);
  });
});

describe('withAuditTrail: state reads', () => {
  it('answers exists with the inner check alone and state with one inner read', async () => {
    const inner = new MemoryFlagAdapter();
    const audited = withAuditTrail(inner);
    await audited.enable('f', 'actors', '1');
    const state = vi.spyOn(inner, 'state');
    const exists = vi.spyOn(inner, 'exists');
    expect(await audited.exists('f')).toBe(true);
    expect(state).not.toHaveBeenCalled();
    expect(await audited.state('f')).toEqual({ exists: true, gates: { ...defaultGates(), actors: ['1'] } });
    expect(state).toHaveBeenCalledTimes(1);
    expect(exists).toHaveBeenCalledTimes(1);
    await expect(audited.state('')).rejects.toMatchObject({ code: 'INVALID_FEATURE' });
  });
});
