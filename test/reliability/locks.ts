// Switching the FlagAdapter `lockFeature` hook off, to show what goes wrong across processes
// without it (PrismaFlagAdapter and MongoFlagAdapter both have one; see docs/reliability.md).
import type { FlagAdapter } from '../../src/core/types.js';

/** `adapter` without its `lockFeature` hook: to show what goes wrong across processes without it. */
export function withoutFeatureLock(adapter: FlagAdapter): FlagAdapter {
  // A Proxy rather than Object.create: adapters with #private fields need their own `this`.
  return new Proxy(adapter, {
    get(target, property) {
      if (property === 'lockFeature') return undefined;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
