import { describe, expect, it } from 'vitest';
import { MemoryAuditStore } from '../memory/memory-audit-store.js';
import { MemoryFlagAdapter } from '../memory/memory-flag-adapter.js';
import { withActor } from './actor-context.js';
import { withAuditTrail } from './audited-adapter.js';
import { crc32 } from './evaluate/index.js';
import { Flags } from './flags.js';
import { defaultGates } from './gates.js';

function setup() {
  const store = new MemoryAuditStore();
  const audited = withAuditTrail(new MemoryFlagAdapter(), { store });
  const flags = new Flags(audited, {
    groups: { staff: (c) => c.role === 'staff' },
    random: () => 0.5,
  });
  return { store, audited, flags };
}

describe('Flags', () => {
  it('maps every method onto the adapter, audited as usual', async () => {
    const { flags, audited } = setup();
    await withActor({ id: 'ada' }, async () => {
      await flags.add('f');
      await flags.enableActor('f', '1');
      await flags.enableGroup('f', 'staff');
      await flags.enablePercentageOfActors('f', 10);
      await flags.enablePercentageOfTime('f', 5);
      await flags.enableExpression('f', { Equal: [{ Property: ['plan'] }, 'pro'] });
    });
    expect(await flags.state('f')).toEqual({
      exists: true,
      gates: {
        boolean: false,
        actors: ['1'],
        groups: ['staff'],
        percentageOfActors: 10,
        percentageOfTime: 5,
        expression: { Equal: [{ Property: ['plan'] }, 'pro'] },
      },
    });
    await flags.disableActor('f', '1');
    await flags.disableGroup('f', 'staff');
    await flags.disablePercentageOfActors('f');
    await flags.disablePercentageOfTime('f');
    await flags.disableExpression('f');
    expect((await flags.state('f')).gates).toEqual(defaultGates());
    await flags.enable('f');
    expect((await flags.list()).f?.boolean).toBe(true);
    await flags.disable('f');
    await flags.enable('f');
    await flags.clear('f');
    await flags.remove('f');
    expect(await flags.state('f')).toEqual({ exists: false, gates: defaultGates() });
    const ops = (await audited.history({ limit: 1000 }))
      .map((e) => `${e.operation}:${e.gate ?? ''}`)
      .reverse();
    expect(ops).toEqual([
      'add:',
      'enable:actors',
      'enable:groups',
      'enable:percentageOfActors',
      'enable:percentageOfTime',
      'enable:expression',
      'disable:actors',
      'disable:groups',
      'disable:percentageOfActors',
      'disable:percentageOfTime',
      'disable:expression',
      'enable:boolean',
      'disable:boolean',
      'enable:boolean',
      'clear:',
      'remove:',
    ]);
  });

  it('isEnabled evaluates with the shared evaluator', async () => {
    const { flags } = setup();
    expect(await flags.isEnabled('f')).toBe(false);
    await flags.enableActor('f', 'User;1');
    expect(await flags.isEnabled('f', { targetingKey: 'User;1' })).toBe(true);
    expect(await flags.isEnabled('f', { targetingKey: 'User;2' })).toBe(false);
    await flags.enableGroup('f', 'staff');
    expect(await flags.isEnabled('f', { targetingKey: 'User;2', role: 'staff' })).toBe(true);
    await flags.enablePercentageOfTime('f', 60);
    expect(await flags.isEnabled('f')).toBe(true); // random() = 0.5 < 0.6
    await flags.clear('f');
    await flags.enablePercentageOfActors('f', 50);
    const ids = Array.from({ length: 200 }, (_, i) => `User;${i}`);
    for (const id of ids) {
      const expected = crc32(`f${id}`) % 100_000 < 50 * 1000;
      expect(await flags.isEnabled('f', { targetingKey: id })).toBe(expected);
    }
    await expect(flags.isEnabled('')).rejects.toMatchObject({ code: 'INVALID_FEATURE' });
  });

  it('refuses something that is not an adapter', () => {
    expect(() => new Flags({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});
