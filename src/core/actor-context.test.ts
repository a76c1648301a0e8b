import { describe, expect, it } from 'vitest';
import { currentActor, currentContext, withActor } from './actor-context.js';

describe('actor context', () => {
  it('is empty outside withActor', () => {
    expect(currentActor()).toBeUndefined();
    expect(currentContext()).toBeUndefined();
  });

  it('holds the actor and context through awaits, timers and nested scopes', async () => {
    await withActor(
      { id: 'ada' },
      async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        expect(currentActor()).toEqual({ id: 'ada' });
        expect(currentContext()).toEqual({ reason: 'r' });
        await withActor({ id: 'bob' }, async () => {
          expect(currentActor()?.id).toBe('bob');
          expect(currentContext()).toEqual({});
        });
        expect(currentActor()?.id).toBe('ada');
      },
      { reason: 'r' },
    );
    expect(currentActor()).toBeUndefined();
  });

  it('returns what fn returns and validates its input', () => {
    expect(withActor({ id: 'a' }, () => 42)).toBe(42);
    expect(() => withActor({ id: '' }, () => 1)).toThrow(expect.objectContaining({ code: 'INVALID_ACTOR' }));
    expect(() => withActor({ id: 'a' }, () => 1, { reason: 1 as unknown as string })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONTEXT' }),
    );
  });

  it('copies the actor so later mutation of the caller object changes nothing', () => {
    const actor = { id: 'a' };
    withActor(actor, () => {
      actor.id = 'mallory';
      expect(currentActor()?.id).toBe('a');
    });
  });
});
