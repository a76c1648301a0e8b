// Generates one Prisma client per provider from the shipped models (prisma/flagtrail.prisma and
// its per-provider copies), offline, into test/prisma/generated/<provider>/client. Used by the
// vitest global setup, by scripts/prisma-generate.ts and, through createPrismaTestDatabase, by
// anything else that needs a real client (demo, benchmark).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The providers flagtrail's Prisma backend is tested on. */
export type TestProvider = 'sqlite' | 'postgresql' | 'mysql';

export const TEST_PROVIDERS: readonly TestProvider[] = ['sqlite', 'postgresql', 'mysql'];

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const GENERATED_ROOT = join(REPO_ROOT, 'test/prisma/generated');

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/** The models file a provider's client is generated from (the same files users copy). */
export function modelsFile(provider: TestProvider): string {
  return provider === 'sqlite'
    ? join(REPO_ROOT, 'prisma/flagtrail.prisma')
    : join(REPO_ROOT, `prisma/${provider}/flagtrail.prisma`);
}

/** Directory of the generated client of a provider; import `client.ts` from it. */
export function clientDir(provider: TestProvider): string {
  return join(GENERATED_ROOT, provider, 'client');
}

function header(provider: TestProvider): string {
  // No url: Prisma 7 reads connection settings from prisma.config.ts or the driver adapter, and
  // generate needs none.
  return `generator client {\n  provider = "prisma-client"\n  output   = "../client"\n}\n\ndatasource db {\n  provider = "${provider}"\n}\n`;
}

async function stampFor(provider: TestProvider): Promise<string> {
  const prismaVersion = (require('prisma/package.json') as { version: string }).version;
  const models = await readFile(modelsFile(provider), 'utf8');
  return createHash('sha256')
    .update(`${prismaVersion}\n${header(provider)}\n${models}`)
    .digest('hex');
}

async function isFresh(provider: TestProvider, stamp: string): Promise<boolean> {
  const file = join(GENERATED_ROOT, provider, 'stamp');
  if (!existsSync(join(clientDir(provider), 'client.ts'))) return false;
  try {
    return (await readFile(file, 'utf8')) === stamp;
  } catch {
    return false;
  }
}

async function generateOne(provider: TestProvider): Promise<void> {
  const stamp = await stampFor(provider);
  if (await isFresh(provider, stamp)) return;
  // Build in a private directory and move it into place, so concurrent runs never see half a client.
  const work = join(GENERATED_ROOT, `.build-${provider}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(join(work, 'schema'), { recursive: true });
  try {
    await writeFile(join(work, 'schema/base.prisma'), header(provider));
    await writeFile(join(work, 'schema/flagtrail.prisma'), await readFile(modelsFile(provider), 'utf8'));
    const cli = join(dirname(require.resolve('prisma/package.json')), 'build/index.js');
    try {
      await run(process.execPath, [cli, 'generate', '--schema', join(work, 'schema')], {
        cwd: work,
        env: {
          ...process.env,
          // The CLI fetches its schema engine at start; generate never runs it, so any existing
          // file satisfies the check and no download is attempted.
          PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
          PRISMA_HIDE_UPDATE_MESSAGE: '1',
          CHECKPOINT_DISABLE: '1',
        },
        timeout: 120_000,
      });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `prisma generate failed for ${provider}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
      );
    }
    await writeFile(join(work, 'stamp'), stamp);
    const target = join(GENERATED_ROOT, provider);
    const old = `${work}-old`;
    if (existsSync(target)) await rename(target, old).catch(() => undefined);
    try {
      await rename(work, target);
    } catch (error) {
      // Another run put a client in place first; fine if it is the same one.
      if (!(await isFresh(provider, stamp))) throw error;
    }
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Generates the clients that are missing or stale (models or Prisma version changed). */
export async function ensurePrismaClients(
  providers: readonly TestProvider[] = TEST_PROVIDERS,
): Promise<void> {
  await mkdir(GENERATED_ROOT, { recursive: true });
  for (const provider of providers) await generateOne(provider);
}
