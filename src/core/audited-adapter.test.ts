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
    await audited.enable('f', 'actors', '2');
    expect(features).not.toHaveBeenCalled();
    expect(get).toHaveBeenCalledTimes(2);
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
