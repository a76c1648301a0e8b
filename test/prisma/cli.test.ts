// `npx flagtrail init prisma [dir]`, and the shipped model files staying in step with each other.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, initPrisma } from '../../src/cli/init-prisma.js';
import { REPO_ROOT } from '../support/prisma-generate.js';

const run = promisify(execFile);

function io(cwd: string): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { cwd, lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

const shipped = (variant: string) =>
  readFile(join(REPO_ROOT, 'prisma', variant === 'generic' ? '' : variant, 'flagtrail.prisma'), 'utf8');

describe('flagtrail init prisma', () => {
  let root: string;
  let n = 0;
  const project = async (schema?: string) => {
    const dir = join(root, `p${++n}`);
    await mkdir(join(dir, 'prisma'), { recursive: true });
    if (schema !== undefined) await writeFile(join(dir, 'prisma/schema.prisma'), schema);
    return dir;
  };
  const schemaFor = (provider: string) =>
    `// app schema\ngenerator client {\n  provider = "prisma-client"\n  output = "../generated"\n}\n\ndatasource db {\n  provider = "${provider}" // the database\n}\n`;

  beforeAll(async () => {
    root = join(REPO_ROOT, '.tmp', `cli-${randomBytes(4).toString('hex')}`);
    await mkdir(root, { recursive: true });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['postgresql', 'postgresql'],
    ['mysql', 'mysql'],
    ['sqlite', 'generic'],
  ])('reads the %s datasource and copies the matching models', async (provider, variant) => {
    const dir = await project(schemaFor(provider));
    const out = io(dir);
    expect(await initPrisma([], out)).toBe(0);
    expect(await readFile(join(dir, 'prisma/flagtrail.prisma'), 'utf8')).toBe(await shipped(variant));
    expect(out.lines.join('\n')).toContain(`prisma/sql/${provider}.sql`);
  });

  it('copies the provider-neutral models when no datasource is found, into the given dir', async () => {
    const dir = await project();
    expect(await initPrisma(['db/schema'], io(dir))).toBe(0);
    expect(await readFile(join(dir, 'db/schema/flagtrail.prisma'), 'utf8')).toBe(await shipped('generic'));
  });

  it('lets --provider win over the datasource', async () => {
    const dir = await project(schemaFor('sqlite'));
    expect(await initPrisma(['--provider', 'mysql'], io(dir))).toBe(0);
    expect(await readFile(join(dir, 'prisma/flagtrail.prisma'), 'utf8')).toBe(await shipped('mysql'));
  });

  it('never overwrites a different file without --force, and says so', async () => {
    const dir = await project(schemaFor('postgresql'));
    await writeFile(join(dir, 'prisma/flagtrail.prisma'), '// mine\n');
    const refused = io(dir);
    expect(await initPrisma([], refused)).toBe(1);
    expect(refused.errors.join('\n')).toContain('--force');
    expect(await readFile(join(dir, 'prisma/flagtrail.prisma'), 'utf8')).toBe('// mine\n');
    expect(await initPrisma(['--force'], io(dir))).toBe(0);
    const again = io(dir);
    expect(await initPrisma([], again)).toBe(0);
    expect(again.lines.join('\n')).toContain('already up to date');
  });

  it('refuses unknown providers, options and extra arguments with exit code 2', async () => {
    const dir = await project(schemaFor('mongodb'));
    const unsupported = io(dir);
    expect(await initPrisma([], unsupported)).toBe(2);
    expect(unsupported.errors.join('\n')).toContain('"mongodb"');
    expect(await initPrisma(['--provider'], io(dir))).toBe(2);
    expect(await initPrisma(['--bogus'], io(dir))).toBe(2);
    expect(await initPrisma(['a', 'b'], io(dir))).toBe(2);
  });

  it('runs as a command', async () => {
    const dir = await project(schemaFor('postgresql'));
    const tsx = join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs');
    const { stdout } = await run(
      process.execPath,
      [tsx, join(REPO_ROOT, 'src/cli/main.ts'), 'init', 'prisma'],
      {
        cwd: dir,
      },
    );
    expect(stdout).toContain('wrote prisma/flagtrail.prisma');
    expect(await readFile(join(dir, 'prisma/flagtrail.prisma'), 'utf8')).toBe(await shipped('postgresql'));
    const failed = await run(process.execPath, [tsx, join(REPO_ROOT, 'src/cli/main.ts'), 'frobnicate'], {
      cwd: dir,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(2);
  });
});

describe('the shipped model files', () => {
  // Comments and native column types aside, the three copies must declare the same models.
  const strip = (text: string) =>
    text
      .split('\n')
      .filter((l) => !l.trim().startsWith('//'))
      .join('\n')
      .replace(/\s@db\.\w+(\([^)]*\))?/g, '')
      .replace(/\(length: \d+\)/g, '')
      .split('\n')
      .map((l) => l.replace(/[ \t]+/g, ' ').trim())
      .join('\n')
      .trim();

  it('declare the same models, fields and indexes for every provider', async () => {
    const generic = strip(await shipped('generic'));
    expect(strip(await shipped('postgresql'))).toBe(generic);
    expect(strip(await shipped('mysql'))).toBe(generic);
  });

  it('match the SQL files: every table, column and index name appears in each', async () => {
    const models = await shipped('generic');
    const names = new Set<string>();
    for (const m of models.matchAll(/@map\("(\w+)"\)|map: "(\w+)"/g)) names.add((m[1] ?? m[2]) as string);
    for (const m of models.matchAll(
      /^\s+(id|key|value|version|feature|operation|gate|before|after|changes|context|adapter)\s/gm,
    )) {
      names.add(m[1] as string);
    }
    for (const provider of ['postgresql', 'mysql', 'sqlite']) {
      const sql = await readFile(join(REPO_ROOT, 'prisma/sql', `${provider}.sql`), 'utf8');
      for (const name of names)
        expect(sql, `${name} in ${provider}.sql`).toMatch(new RegExp(`\\b${name}\\b`));
    }
  });
});
