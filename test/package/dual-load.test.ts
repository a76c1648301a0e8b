// Loads the BUILT package twice, as CommonJS and as ESM, the way an app that mixes both would,
// and checks that both copies share one actor storage. Needs `npm run build` first (CI does it).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = `${root}dist/`;

type Core = typeof import('../../src/index.js');
type Memory = typeof import('../../src/memory/index.js');

let cjs: Core;
let cjsMemory: Memory;
let esm: Core;
let esmMemory: Memory;

beforeAll(async () => {
  if (!existsSync(`${dist}index.cjs`) || !existsSync(`${dist}index.js`)) {
    throw new Error('dist/ is missing: run `npm run build` before this test');
  }
  const require = createRequire(import.meta.url);
  cjs = require(`${dist}index.cjs`);
  cjsMemory = require(`${dist}memory/index.cjs`);
  esm = await import(pathToFileURL(`${dist}index.js`).href);
  esmMemory = await import(pathToFileURL(`${dist}memory/index.js`).href);
});

describe('built package', () => {
  it('loads as two distinct module instances', () => {
    expect(cjs.withActor).not.toBe(esm.withActor);
    expect(cjs.FlagTrailError).not.toBe(esm.FlagTrailError);
  });

  it('shares one actor storage between its CJS and ESM copies', async () => {
    await cjs.withActor({ id: 'from-cjs' }, async () => {
      expect(esm.currentActor()).toEqual({ id: 'from-cjs' });
    });
    await esm.withActor({ id: 'from-esm' }, async () => {
      expect(cjs.currentActor()).toEqual({ id: 'from-esm' });
    });
  });

  it('attributes a write made by the ESM decorator inside a CJS withActor', async () => {
    const audited = esm.withAuditTrail(new esmMemory.MemoryFlagAdapter());
    const viaCjs = cjs.withAuditTrail(new cjsMemory.MemoryFlagAdapter());
    await cjs.withActor({ id: 'ada' }, () => audited.enable('f', 'actors', '1'), { reason: 'mixed' });
    await esm.withActor({ id: 'bob' }, () => viaCjs.enable('f', 'actors', '1'));
    const [entry] = await audited.history();
    expect(entry?.actor).toEqual({ id: 'ada' });
    expect(entry?.context).toEqual({ reason: 'mixed' });
    expect((await viaCjs.history())[0]?.actor).toEqual({ id: 'bob' });
  });

  it('recognizes errors thrown by the other copy', async () => {
    const audited = cjs.withAuditTrail(new cjsMemory.MemoryFlagAdapter());
    const error = await audited.add('').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(cjs.FlagTrailError);
    expect(esm.isFlagTrailError(error)).toBe(true);
  });
});
