import {
  type Client,
  ErrorCode,
  type EventDetails,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AuditedAdapter, withAuditTrail } from '../../src/core/audited-adapter.js';
import { FlagTrailError } from '../../src/core/errors.js';
import { defaultGates } from '../../src/core/gates.js';
import type { GateValues, JsonObject } from '../../src/core/types.js';
import { MemoryFlagAdapter } from '../../src/memory/index.js';
import { DEFAULT_REFRESH_INTERVAL_MS, FlagTrailProvider } from '../../src/openfeature/index.js';

// Flipper's bucketing, computed here from first principles (bitwise CRC-32 over UTF-8, no table,
// no zlib) so the parity check does not trust the code it checks.
function referenceCrc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function flipperBucket(feature: string, actor: string, percentage: number): boolean {
  return referenceCrc32(`${feature}${actor}`) % 100_000 < percentage * 1_000;
}

/**
 * A memory adapter whose reads can be made to fail or wait, standing in for a database that goes
 * away, and which can hold rows the validators would refuse (as another tool might write them).
 */
class ControllableAdapter extends MemoryFlagAdapter {
  getAllCalls = 0;
  failWith: Error | undefined;
  hold: Promise<void> | undefined;
  foreign: Record<string, GateValues> = {};

  override async getAll(): Promise<Record<string, GateValues>> {
    this.getAllCalls++;
    if (this.hold) await this.hold;
    if (this.failWith) throw this.failWith;
    return { ...(await super.getAll()), ...structuredClone(this.foreign) };
  }
}

function gates(overrides: Partial<GateValues>): GateValues {
  return { ...defaultGates(), ...overrides };
}

function collect(client: Client, event: ProviderEvents): EventDetails[] {
  const seen: EventDetails[] = [];
  client.addHandler(event, (details) => {
    if (details) seen.push(details);
  });
  return seen;
}

let inner: ControllableAdapter;
let adapter: AuditedAdapter;

beforeEach(() => {
  inner = new ControllableAdapter();
  adapter = withAuditTrail(inner);
});

afterEach(async () => {
  await OpenFeature.clearProviders();
  OpenFeature.clearHandlers();
  vi.useRealTimers();
});

async function register(
  options: ConstructorParameters<typeof FlagTrailProvider>[1] = {},
): Promise<{ provider: FlagTrailProvider; client: Client }> {
  const provider = new FlagTrailProvider(adapter, { refreshIntervalMs: 0, ...options });
  await OpenFeature.setProviderAndWait(provider);
  return { provider, client: OpenFeature.getClient() };
}

describe('FlagTrailProvider registration', () => {
  it('follows the provider conventions', () => {
    const provider = new FlagTrailProvider(adapter);
    expect(provider.metadata).toEqual({ name: 'flagtrail' });
    expect(provider.runsOn).toBe('server');
    expect(typeof provider.events.addHandler).toBe('function');
  });

  it('serves the default domain and a named domain, each from its own adapter', async () => {
    await adapter.enable('checkout', 'boolean', true);
    const other = withAuditTrail(new MemoryFlagAdapter());
    await other.enable('checkout', 'actors', '7');

    const { client } = await register();
    await OpenFeature.setProviderAndWait('payments', new FlagTrailProvider(other, { refreshIntervalMs: 0 }));
    const payments = OpenFeature.getClient('payments');

    expect(client.providerStatus).toBe(ProviderStatus.READY);
    expect(payments.providerStatus).toBe(ProviderStatus.READY);
    expect(client.metadata.providerMetadata.name).toBe('flagtrail');
    expect(await client.getBooleanValue('checkout', false, { targetingKey: '1' })).toBe(true);
    expect(await payments.getBooleanValue('checkout', false, { targetingKey: '1' })).toBe(false);
    expect(await payments.getBooleanValue('checkout', false, { targetingKey: '7' })).toBe(true);
  });

  it('refuses a bad adapter or bad options with a typed error', () => {
    const cases: Array<[unknown, unknown, RegExp]> = [
      [null, {}, /needs a flag adapter/],
      [{}, {}, /needs a flag adapter/],
      [adapter, 'fast', /options must be an object/],
      [adapter, { refreshIntervalMs: -1 }, /refreshIntervalMs must be an integer/],
      [adapter, { refreshIntervalMs: 1.5 }, /refreshIntervalMs must be an integer/],
      [adapter, { refreshIntervalMs: '1000' }, /refreshIntervalMs must be an integer/],
      [adapter, { groups: { admins: true } }, /group "admins" must be a function/],
      [adapter, { groups: [] }, /groups must be an object of functions/],
      [adapter, { random: 0.5 }, /random must be a function/],
      [adapter, { now: new Date() }, /now must be a function/],
    ];
    for (const [a, options, message] of cases) {
      let caught: unknown;
      try {
        new FlagTrailProvider(a as AuditedAdapter, options as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(FlagTrailError);
      expect((caught as FlagTrailError).code).toBe('INVALID_OPTION');
      expect((caught as FlagTrailError).message).toMatch(message);
    }
  });
});

describe('evaluation through an OpenFeature client', () => {
  it('boolean gate: on for everyone, STATIC', async () => {
    await adapter.enable('checkout', 'boolean', true);
    const { client } = await register();
    const details = await client.getBooleanDetails('checkout', false);
    expect(details).toMatchObject({
      value: true,
      variant: 'on',
      reason: StandardResolutionReasons.STATIC,
      flagMetadata: { gate: 'boolean' },
    });
    expect(details.errorCode).toBeUndefined();
  });

  it('actors gate: on for a listed targetingKey, TARGETING_MATCH', async () => {
    await adapter.enable('checkout', 'actors', '42');
    const { client } = await register();
    expect(await client.getBooleanDetails('checkout', false, { targetingKey: '42' })).toMatchObject({
      value: true,
      variant: 'on',
      reason: StandardResolutionReasons.TARGETING_MATCH,
      flagMetadata: { gate: 'actors' },
    });
    const off = await client.getBooleanDetails('checkout', true, { targetingKey: '43' });
    expect(off).toMatchObject({ value: false, variant: 'off', reason: StandardResolutionReasons.DEFAULT });
    expect(off.flagMetadata).toEqual({});
  });

  it('groups gate: registered predicates over the context', async () => {
    await adapter.enable('checkout', 'groups', 'admins');
    await adapter.enable('checkout', 'groups', 'ghosts');
    const { client } = await register({ groups: { admins: (context) => context.role === 'admin' } });
    expect(
      await client.getBooleanDetails('checkout', false, { targetingKey: '1', role: 'admin' }),
    ).toMatchObject({
      value: true,
      reason: StandardResolutionReasons.TARGETING_MATCH,
      flagMetadata: { gate: 'groups' },
    });
    expect(await client.getBooleanValue('checkout', true, { targetingKey: '1', role: 'user' })).toBe(false);
  });

  it('expression gate: Flipper expressions over context properties', async () => {
    await adapter.enable('checkout', 'expression', { Equal: [{ Property: ['plan'] }, 'pro'] });
    const { client } = await register();
    expect(await client.getBooleanDetails('checkout', false, { plan: 'pro' })).toMatchObject({
      value: true,
      reason: StandardResolutionReasons.TARGETING_MATCH,
      flagMetadata: { gate: 'expression' },
    });
    expect(await client.getBooleanValue('checkout', true, { plan: 'free' })).toBe(false);
  });

  it('percentage of actors: SPLIT, deterministic per targetingKey', async () => {
    await adapter.enable('checkout', 'percentageOfActors', 5);
    const { client } = await register();
    // crc32("checkout42") % 100000 = 4462 < 5000; crc32("checkout1") % 100000 = 45101.
    expect(await client.getBooleanDetails('checkout', false, { targetingKey: '42' })).toMatchObject({
      value: true,
      reason: StandardResolutionReasons.SPLIT,
      flagMetadata: { gate: 'percentageOfActors' },
    });
    expect(await client.getBooleanValue('checkout', true, { targetingKey: '1' })).toBe(false);
    expect(await client.getBooleanValue('checkout', true, {})).toBe(false);
  });

  it('percentage of time: SPLIT, drawn from the injected random source', async () => {
    await adapter.enable('checkout', 'percentageOfTime', 30);
    let next = 0.29;
    const { client } = await register({ random: () => next });
    expect(await client.getBooleanDetails('checkout', false)).toMatchObject({
      value: true,
      reason: StandardResolutionReasons.SPLIT,
      flagMetadata: { gate: 'percentageOfTime' },
    });
    next = 0.3;
    expect(await client.getBooleanValue('checkout', true)).toBe(false);
  });

  it('a registered flag with no gate set is DISABLED', async () => {
    await adapter.add('checkout');
    const { client } = await register();
    expect(await client.getBooleanDetails('checkout', true)).toMatchObject({
      value: false,
      variant: 'off',
      reason: StandardResolutionReasons.DISABLED,
    });
  });

  it("checks gates in Flipper's order: boolean, expression, actors, % of actors, % of time, groups", async () => {
    inner.foreign.everything = gates({
      boolean: true,
      expression: { Boolean: [true] },
      actors: ['1'],
      percentageOfActors: 100,
      percentageOfTime: 100,
      groups: ['everyone'],
    });
    const { client } = await register({ groups: { everyone: () => true }, random: () => 0 });
    const gate = async () =>
      (await client.getBooleanDetails('everything', false, { targetingKey: '1' })).flagMetadata.gate ?? null;
    expect(await gate()).toBe('boolean');

    // The same walk with real writes (boolean clears every gate in Flipper, so it starts below it).
    await adapter.enable('walk', 'groups', 'everyone');
    await adapter.enable('walk', 'percentageOfTime', 100);
    await adapter.enable('walk', 'percentageOfActors', 100);
    await adapter.enable('walk', 'actors', '1');
    await adapter.enable('walk', 'expression', { Boolean: [true] });
    const walk = async () =>
      (await client.getBooleanDetails('walk', false, { targetingKey: '1' })).flagMetadata.gate ?? null;
    expect(await walk()).toBe('expression');
    await adapter.disable('walk', 'expression', {});
    expect(await walk()).toBe('actors');
    await adapter.disable('walk', 'actors', '1');
    expect(await walk()).toBe('percentageOfActors');
    await adapter.disable('walk', 'percentageOfActors', 0);
    expect(await walk()).toBe('percentageOfTime');
    await adapter.disable('walk', 'percentageOfTime', 0);
    expect(await walk()).toBe('groups');
    await adapter.disable('walk', 'groups', 'everyone');
    expect(await walk()).toBeNull();
    expect((await client.getBooleanDetails('walk', true, { targetingKey: '1' })).reason).toBe(
      StandardResolutionReasons.DISABLED,
    );
  });

  it('an unknown flag resolves to the default with FLAG_NOT_FOUND', async () => {
    const { client } = await register();
    const details = await client.getBooleanDetails('nope', true);
    expect(details).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND, reason: 'ERROR' });
    expect(details.errorMessage).toMatch(/flag "nope" does not exist/);
    expect((await client.getStringDetails('nope', 'x')).errorCode).toBe(ErrorCode.FLAG_NOT_FOUND);
  });

  it('a non-boolean evaluation resolves to the default with TYPE_MISMATCH', async () => {
    await adapter.enable('checkout', 'boolean', true);
    const { client } = await register();
    const text = await client.getStringDetails('checkout', 'fallback');
    expect(text).toMatchObject({ value: 'fallback', errorCode: ErrorCode.TYPE_MISMATCH });
    expect(text.errorMessage).toMatch(/boolean flag.*not as string/);
    expect(await client.getNumberDetails('checkout', 7)).toMatchObject({
      value: 7,
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getObjectDetails('checkout', { a: 1 })).toMatchObject({
      value: { a: 1 },
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
  });

  it('evaluates from the snapshot only: no adapter read per evaluation', async () => {
    await adapter.enable('checkout', 'actors', '42');
    const getSpy = vi.spyOn(inner, 'get');
    const { client } = await register();
    const loads = inner.getAllCalls;
    for (let i = 0; i < 50; i++) await client.getBooleanValue('checkout', false, { targetingKey: String(i) });
    expect(inner.getAllCalls).toBe(loads);
    expect(getSpy).not.toHaveBeenCalled();
  });
});

describe("percentage-of-actors bucketing equals Ruby Flipper's", () => {
  it('for 10,000 actor ids at several percentages: 0 mismatches', async () => {
    const { client } = await register();
    const ids = Array.from({ length: 10_000 }, (_, i) =>
      i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? String(i) : `ü${i}😀`,
    );
    let mismatches = 0;
    let enabled = 0;
    for (const percentage of [0.001, 1, 12.345, 33.333, 50, 99.999]) {
      await adapter.enable('rollout', 'percentageOfActors', percentage);
      for (const id of ids) {
        const actual = await client.getBooleanValue('rollout', false, { targetingKey: id });
        if (actual !== flipperBucket('rollout', id, percentage)) mismatches++;
        if (actual) enabled++;
      }
    }
    expect(mismatches).toBe(0);
    // The buckets are spread as the percentages say (sum of 0.001+1+12.345+33.333+50+99.999 % of 10k).
    expect(enabled).toBeGreaterThan(19_000);
    expect(enabled).toBeLessThan(20_000);
  });

  // Computed with Ruby Flipper 0.25.4 (Debian ruby-flipper): Flipper.new(Flipper::Adapters::Memory.new),
  // feature.enable_percentage_of_actors(pct), feature.enabled?(actor with flipper_id). The ids
  // sit on the bucket boundary: crc32 % 100000 equal to pct * 1000 (closed) or one below (open).
  const ruby: Array<[string, string, number, boolean]> = [
    ['checkout', 'u73373', 12.345, false],
    ['checkout', 'u182440', 12.345, true],
    ['search-v2', 'u26593', 0.029, false],
    ['search-v2', 'u12190', 0.029, true],
    ['search-v2', 'u26593', 0.028, false],
    ['näive-flag', 'u31924', 33.333, false],
    ['näive-flag', 'u10185', 33.333, true],
    ['checkout', 'u158067', 70, false],
    ['checkout', 'u48638', 70, true],
    ['checkout', 'u48638', 69.999, false],
    ['checkout', '42', 7, true],
    ['checkout', 'ü-ñ', 50, true],
    ['checkout', 'user-7', 50, false],
    ['search-v2', '1', 99.999, true],
  ];

  it.each(ruby)(
    '%s / actor %s at %d%% -> %s (pinned from Ruby Flipper)',
    async (feature, actor, pct, expected) => {
      await adapter.enable(feature, 'percentageOfActors', pct);
      const { client } = await register();
      expect(await client.getBooleanValue(feature, !expected, { targetingKey: actor })).toBe(expected);
    },
  );
});

describe('expressions through the provider', () => {
  const now = new Date('2025-06-15T12:00:00Z');
  const cases: Array<[string, JsonObject, Record<string, unknown>, boolean]> = [
    ['Equal on a property', { Equal: [{ Property: ['plan'] }, 'pro'] }, { plan: 'pro' }, true],
    ['NotEqual on a missing property', { NotEqual: [{ Property: ['plan'] }, 'pro'] }, {}, true],
    [
      'GreaterThanOrEqualTo on numbers',
      { GreaterThanOrEqualTo: [{ Property: ['age'] }, 18] },
      { age: 18 },
      true,
    ],
    ['LessThan on numbers', { LessThan: [{ Property: ['age'] }, 18] }, { age: 18 }, false],
    [
      'number vs string closes (Ruby raises)',
      { GreaterThan: [{ Property: ['age'] }, 18] },
      { age: '30' },
      false,
    ],
    [
      'Any',
      { Any: [{ Equal: [{ Property: ['a'] }, 1] }, { Equal: [{ Property: ['b'] }, 1] }] },
      { b: 1 },
      true,
    ],
    [
      'All',
      { All: [{ Equal: [{ Property: ['a'] }, 1] }, { Equal: [{ Property: ['b'] }, 1] }] },
      { b: 1 },
      false,
    ],
    ['Now after a Time', { GreaterThan: [{ Now: [] }, { Time: ['2025-06-01T00:00:00Z'] }] }, {}, true],
    [
      'Date property before Now',
      { LessThan: [{ Property: ['signup'] }, { Now: [] }] },
      { signup: new Date('2025-01-01') },
      true,
    ],
    [
      'Duration',
      { GreaterThan: [{ Property: ['age_s'] }, { Duration: [1, 'day'] }] },
      { age_s: 90_000 },
      true,
    ],
    ['Number of a string', { Equal: [{ Number: [{ Property: ['n'] }] }, 5] }, { n: '5' }, true],
    ['String of a number', { Equal: [{ String: [{ Property: ['n'] }] }, '5'] }, { n: 5 }, true],
    ['Boolean cast', { Boolean: [{ Property: ['beta'] }] }, { beta: 'true' }, true],
    ['Random below a Percentage', { LessThan: [{ Random: [100] }, { Percentage: [50] }] }, {}, true],
    [
      'PercentageOfActors on flipper_id',
      { PercentageOfActors: [{ Property: ['flipper_id'] }, 5] },
      { targetingKey: '42' },
      true,
    ],
    [
      'PercentageOfActors outside the bucket',
      { PercentageOfActors: [{ Property: ['flipper_id'] }, 4] },
      { targetingKey: '42' },
      false,
    ],
  ];

  it.each(cases)('%s', async (_label, expression, context, expected) => {
    await adapter.enable('checkout', 'expression', expression);
    // random 0.3 -> Random(100) gives 30.
    const { client } = await register({ now: () => now, random: () => 0.3 });
    expect(await client.getBooleanValue('checkout', !expected, context as never)).toBe(expected);
  });

  it('an invalid expression is refused when written', async () => {
    const invalid: JsonObject[] = [
      { Foo: [] },
      { Equal: [1] },
      { GreaterThan: [{ Now: [] }, 5] },
      { Duration: [1, 'fortnight'] },
      { Time: ['not a time'] },
    ];
    for (const expression of invalid) {
      await expect(adapter.enable('feature', 'expression', expression)).rejects.toMatchObject({
        name: 'FlagTrailError',
        code: 'INVALID_EXPRESSION',
      });
    }
    expect(await adapter.getAll()).toEqual({});
  });

  it('an invalid expression already in storage never opens the gate and never throws', async () => {
    inner.foreign.future = gates({ expression: { FeatureEnabled: ['other'] } });
    inner.foreign.broken = gates({ expression: { Equal: [1] }, actors: ['42'] });
    const { client } = await register();
    expect(await client.getBooleanDetails('future', true, { targetingKey: '1' })).toMatchObject({
      value: false,
      reason: StandardResolutionReasons.DEFAULT,
    });
    // The other gates of the flag still work.
    expect((await client.getBooleanDetails('broken', false, { targetingKey: '42' })).flagMetadata.gate).toBe(
      'actors',
    );
  });
});

describe('freshness', () => {
  it('an audited write is visible as soon as it resolves, with ConfigurationChanged naming the flag', async () => {
    const { client } = await register();
    const changed = collect(client, ProviderEvents.ConfigurationChanged);

    await adapter.enable('checkout', 'actors', '42');
    expect(await client.getBooleanValue('checkout', false, { targetingKey: '42' })).toBe(true);
    expect(changed.map((e) => e.flagsChanged)).toEqual([['checkout']]);

    await adapter.enable('search', 'boolean', true);
    await adapter.disable('checkout', 'actors', '42');
    expect(await client.getBooleanValue('checkout', true, { targetingKey: '42' })).toBe(false);
    expect(changed.map((e) => e.flagsChanged)).toEqual([['checkout'], ['search'], ['checkout']]);

    // A no-op write is not a change.
    await adapter.disable('checkout', 'actors', '42');
    expect(changed).toHaveLength(3);

    await adapter.remove('search');
    expect(changed.map((e) => e.flagsChanged).at(-1)).toEqual(['search']);
    expect((await client.getBooleanDetails('search', false)).errorCode).toBe(ErrorCode.FLAG_NOT_FOUND);
  });

  it('the refresh loop picks up changes made elsewhere and names exactly the changed flags', async () => {
    vi.useFakeTimers();
    await adapter.enable('a', 'boolean', true);
    await adapter.enable('b', 'actors', '1');
    await adapter.enable('c', 'percentageOfTime', 10);
    const { client } = await register({ refreshIntervalMs: 5_000 });
    const changed = collect(client, ProviderEvents.ConfigurationChanged);

    // Written behind the provider's back (another process, a Rails app): only the reload sees it.
    await inner.enable('b', 'actors', '2');
    await inner.remove('c');
    await inner.add('d');
    expect(await client.getBooleanValue('b', false, { targetingKey: '2' })).toBe(false);

    await vi.advanceTimersByTimeAsync(4_999);
    expect(changed).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(changed.map((e) => e.flagsChanged)).toEqual([['b', 'c', 'd']]);
    expect(await client.getBooleanValue('b', false, { targetingKey: '2' })).toBe(true);
    expect((await client.getBooleanDetails('c', false)).errorCode).toBe(ErrorCode.FLAG_NOT_FOUND);

    // Nothing changed: the loop keeps running but emits nothing.
    const loads = inner.getAllCalls;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(inner.getAllCalls).toBe(loads + 3);
    expect(changed).toHaveLength(1);
  });

  it('the default refresh interval is 10 seconds', async () => {
    vi.useFakeTimers();
    await register({ refreshIntervalMs: undefined });
    const loads = inner.getAllCalls;
    await vi.advanceTimersByTimeAsync(DEFAULT_REFRESH_INTERVAL_MS);
    expect(DEFAULT_REFRESH_INTERVAL_MS).toBe(10_000);
    expect(inner.getAllCalls).toBe(loads + 1);
  });

  it('a failing refresh keeps the last good snapshot and emits Error; the next success emits Ready', async () => {
    vi.useFakeTimers();
    await adapter.enable('checkout', 'actors', '42');
    const { client } = await register({ refreshIntervalMs: 1_000 });
    const errors = collect(client, ProviderEvents.Error);
    const ready = collect(client, ProviderEvents.Ready);
    const changed = collect(client, ProviderEvents.ConfigurationChanged);
    ready.length = 0; // the handler runs once at registration because the provider is already ready

    inner.failWith = new Error('connection refused');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/refresh from adapter "memory" failed: connection refused/);
    expect(client.providerStatus).toBe(ProviderStatus.ERROR);
    // Still served from the last good snapshot.
    expect(await client.getBooleanValue('checkout', false, { targetingKey: '42' })).toBe(true);

    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toHaveLength(2);

    inner.failWith = undefined;
    await inner.enable('checkout', 'actors', '43');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ready).toHaveLength(1);
    expect(client.providerStatus).toBe(ProviderStatus.READY);
    expect(changed.map((e) => e.flagsChanged)).toEqual([['checkout']]);
    expect(await client.getBooleanValue('checkout', false, { targetingKey: '43' })).toBe(true);

    await vi.advanceTimersByTimeAsync(1_000);
    expect(ready).toHaveLength(1);
    expect(errors).toHaveLength(2);
  });

  it('a failed first load rejects registration, and the loop recovers once the adapter answers', async () => {
    vi.useFakeTimers();
    await inner.enable('checkout', 'boolean', true);
    inner.failWith = new Error('database is starting up');
    const provider = new FlagTrailProvider(adapter, { refreshIntervalMs: 2_000 });
    await expect(OpenFeature.setProviderAndWait(provider)).rejects.toThrow(
      /could not load flags.*starting up/,
    );
    const client = OpenFeature.getClient();
    expect(client.providerStatus).toBe(ProviderStatus.ERROR);
    expect((await client.getBooleanDetails('checkout', false)).errorCode).toBe(ErrorCode.PROVIDER_NOT_READY);

    const ready = collect(client, ProviderEvents.Ready);
    inner.failWith = undefined;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ready).toHaveLength(1);
    expect(client.providerStatus).toBe(ProviderStatus.READY);
    expect(await client.getBooleanValue('checkout', false)).toBe(true);
  });

  it('a write made while a reload is in flight is not undone by the older reload result', async () => {
    vi.useFakeTimers();
    const { client, provider } = await register({ refreshIntervalMs: 0 });
    let release: () => void = () => {};
    inner.hold = new Promise((resolve) => {
      release = resolve;
    });
    const reload = provider.refresh();
    // The reload has started and waits; this write lands after its read began.
    inner.hold = undefined;
    await adapter.enable('checkout', 'actors', '42');
    release();
    await reload;
    expect(await client.getBooleanValue('checkout', false, { targetingKey: '42' })).toBe(true);
  });

  it('OpenFeature.close() stops the loop and the subscription: no timer left running', async () => {
    vi.useFakeTimers();
    const { client } = await register({ refreshIntervalMs: 1_000 });
    expect(vi.getTimerCount()).toBe(1);
    const changed = collect(client, ProviderEvents.ConfigurationChanged);

    await OpenFeature.close();
    expect(vi.getTimerCount()).toBe(0);
    const loads = inner.getAllCalls;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(inner.getAllCalls).toBe(loads);

    await adapter.enable('checkout', 'boolean', true);
    expect(changed).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('replacing the provider closes the old one', async () => {
    vi.useFakeTimers();
    await register({ refreshIntervalMs: 1_000 });
    expect(vi.getTimerCount()).toBe(1);
    await OpenFeature.setProviderAndWait(new FlagTrailProvider(adapter, { refreshIntervalMs: 0 }));
    expect(vi.getTimerCount()).toBe(0);
  });
});
