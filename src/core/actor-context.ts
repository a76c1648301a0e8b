import { AsyncLocalStorage } from 'node:async_hooks';
import type { Actor, AuditContext } from './types.js';
import { validateActor, validateContext } from './validate.js';

/** What the actor storage holds for the code running inside `withActor`. */
export interface ActorScope {
  readonly actor: Actor;
  readonly context: AuditContext;
}

// The ESM and CJS builds are two module instances; a registry key shared through globalThis makes
// them (and the middleware and decorator inside them) use one storage.
const STORAGE_KEY = Symbol.for('flagtrail.actor-storage.v1');

type GlobalWithStorage = typeof globalThis & { [STORAGE_KEY]?: AsyncLocalStorage<ActorScope> };

function storage(): AsyncLocalStorage<ActorScope> {
  const g = globalThis as GlobalWithStorage;
  let s = g[STORAGE_KEY];
  if (!s) {
    s = new AsyncLocalStorage<ActorScope>();
    g[STORAGE_KEY] = s;
  }
  return s;
}

const actorStorage = storage();

/**
 * Runs `fn` with `actor` as the author of every audited write it makes, including writes in
 * callbacks and promises it starts. Nested calls replace the actor for their own scope.
 *
 * @example
 * ```ts
 * await withActor({ id: 'u42', label: 'Ada' }, () => flags.enable('checkout'), { reason: 'launch' });
 * ```
 */
export function withActor<T>(actor: Actor, fn: () => T, context?: AuditContext): T {
  const scope: ActorScope = Object.freeze({ actor: validateActor(actor), context: validateContext(context) });
  return actorStorage.run(scope, fn);
}

/**
 * Runs `fn` outside every `withActor` scope, so its audited writes fall back to the trail's
 * `systemActor`. The HTTP middleware uses it for anonymous requests.
 */
export function withoutActor<T>(fn: () => T): T {
  // run(undefined) rather than exit(): exit() is still experimental in Node 20.
  return actorStorage.run(undefined as unknown as ActorScope, fn);
}

/** The actor set by the innermost `withActor`, or `undefined` outside any. */
export function currentActor(): Actor | undefined {
  return actorStorage.getStore()?.actor;
}

/** The context set by the innermost `withActor`, or `undefined` outside any. */
export function currentContext(): AuditContext | undefined {
  return actorStorage.getStore()?.context;
}

/** Actor and context together, read once. */
export function currentScope(): ActorScope | undefined {
  return actorStorage.getStore();
}
