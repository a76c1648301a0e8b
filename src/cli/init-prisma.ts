import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the CLI writes and what it writes to. */
export interface CliIo {
  cwd: string;
  out: (line: string) => void;
  err: (line: string) => void;
}

type ModelsVariant = 'postgresql' | 'mysql' | 'generic';

export const USAGE = `Usage: flagtrail init prisma [dir] [--provider postgresql|mysql|sqlite] [--force]

Copies flagtrail's Prisma models (Ruby Flipper's flipper_features and flipper_gates, and
flagtrail_audit_entries) into dir/flagtrail.prisma (dir defaults to ./prisma). The provider is
read from the datasource in dir when --provider is not given. Your Prisma client is not loaded.`;

/** The `prisma/` folder shipped with the package, found from the running file (dist or src). */
export function packagePrismaDir(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'prisma');
    if (existsSync(join(candidate, 'flagtrail.prisma'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`cannot find flagtrail's prisma/flagtrail.prisma near ${from}`);
}

function variantFor(provider: string): ModelsVariant | undefined {
  switch (provider) {
    case 'postgresql':
    case 'postgres':
      return 'postgresql';
    case 'mysql':
      return 'mysql';
    case 'sqlite':
    case 'cockroachdb':
    case 'sqlserver':
      return 'generic';
    default:
      return undefined;
  }
}

// The provider of the first datasource block found in the schema files of `dir`.
async function detectProvider(dir: string): Promise<{ provider: string; file: string } | undefined> {
  if (!existsSync(dir)) return undefined;
  const files = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith('.prisma') && e.name !== 'flagtrail.prisma')
    .map((e) => join(dir, e.name))
    .sort();
  for (const file of files) {
    const text = (await readFile(file, 'utf8')).replace(/\/\/.*$/gm, '');
    const block = /datasource\s+\w+\s*\{([^}]*)\}/m.exec(text);
    const provider = block && /provider\s*=\s*"([^"]+)"/.exec(block[1] ?? '');
    if (provider?.[1]) return { provider: provider[1], file };
  }
  return undefined;
}

/** `flagtrail init prisma [dir] [--provider x] [--force]`; resolves to the process exit code. */
export async function initPrisma(args: string[], io: CliIo): Promise<number> {
  let dirArg: string | undefined;
  let providerArg: string | undefined;
  let force = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--force' || arg === '-f') force = true;
    else if (arg === '--provider' || arg === '-p') {
      providerArg = args[++i];
      if (providerArg === undefined) {
        io.err('flagtrail: --provider needs a value: postgresql, mysql or sqlite');
        return 2;
      }
    } else if (arg.startsWith('--provider=')) providerArg = arg.slice('--provider='.length);
    else if (arg === '--help' || arg === '-h') {
      io.out(USAGE);
      return 0;
    } else if (arg.startsWith('-')) {
      io.err(`flagtrail: unknown option ${arg}\n\n${USAGE}`);
      return 2;
    } else if (dirArg === undefined) dirArg = arg;
    else {
      io.err(`flagtrail: unexpected argument ${arg}\n\n${USAGE}`);
      return 2;
    }
  }

  const dir = resolve(io.cwd, dirArg ?? 'prisma');
  let provider = providerArg;
  let source = '--provider';
  if (provider === undefined) {
    const detected = await detectProvider(dir);
    if (detected) {
      provider = detected.provider;
      source = relative(io.cwd, detected.file) || detected.file;
    }
  }
  let variant: ModelsVariant = 'generic';
  if (provider !== undefined) {
    const v = variantFor(provider);
    if (v === undefined) {
      io.err(
        `flagtrail: unsupported provider "${provider}" (from ${source}); use postgresql, mysql or sqlite`,
      );
      return 2;
    }
    variant = v;
  }

  const shipped = packagePrismaDir();
  const from =
    variant === 'generic' ? join(shipped, 'flagtrail.prisma') : join(shipped, variant, 'flagtrail.prisma');
  const models = await readFile(from, 'utf8');
  const target = join(dir, 'flagtrail.prisma');
  const shown = relative(io.cwd, target) || target;
  if (existsSync(target)) {
    const current = await readFile(target, 'utf8');
    if (current === models) {
      io.out(`flagtrail: ${shown} is already up to date`);
      return 0;
    }
    if (!force) {
      io.err(
        `flagtrail: ${shown} exists and differs from flagtrail's models; run again with --force to overwrite it`,
      );
      return 1;
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFile(target, models);

  const sql = provider === 'mysql' ? 'mysql.sql' : provider === 'sqlite' ? 'sqlite.sql' : 'postgresql.sql';
  io.out(
    `flagtrail: wrote ${shown} (${variant === 'generic' ? 'provider-neutral models' : `${variant} column types`}${provider ? `, provider from ${source}` : ''})`,
  );
  io.out('');
  io.out('Next:');
  io.out(
    `  1. Make sure Prisma loads every file in ${relative(io.cwd, dir) || '.'}: with a multi-file schema, set`,
  );
  io.out(
    `     schema: "${relative(io.cwd, dir) || '.'}" in prisma.config.ts (or paste the models into your schema file).`,
  );
  io.out('  2. Create the tables: npx prisma migrate dev --name flagtrail');
  io.out(
    `     (or run node_modules/flagtrail/prisma/sql/${sql}; skip the flipper_* tables if Rails created them).`,
  );
  io.out('  3. npx prisma generate, then: withAuditTrail(new PrismaFlagAdapter(prisma))');
  return 0;
}
