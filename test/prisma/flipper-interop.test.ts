// A real Ruby Flipper (Debian's ruby-flipper 0.25.4 with its ActiveRecord adapter) and flagtrail
// on the same PostgreSQL tables, in both directions: what Ruby writes flagtrail reads, what
// flagtrail writes Ruby reads and evaluates the same way. Flipper 0.25 has boolean, actor, group,
// percentage-of-actors and percentage-of-time gates (expressions came in Flipper 1.0).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { inPercentageBucket } from '../../src/core/evaluate/expression.js';
import { defaultGates } from '../../src/core/gates.js';
import { PrismaFlagAdapter } from '../../src/prisma/index.js';
import { createPrismaTestDatabase, type PrismaTestDatabase } from '../support/prisma-db.js';
import { REPO_ROOT } from '../support/prisma-generate.js';

const SCRIPT = join(REPO_ROOT, 'test/prisma/flipper-interop.rb');
const INSTALL =
  'install it with: sudo scripts/install-ruby-flipper.sh (apt-get install ruby ruby-flipper ruby-pg ruby-activerecord)';

interface RubyState {
  boolean: boolean | null;
  actors: string[];
  groups: string[];
  percentage_of_actors: number | null;
  percentage_of_time: number | null;
}

interface RubyAnswer {
  features: string[];
  state: Record<string, RubyState>;
  enabled: Record<string, string[]>;
}

type Step = [string, string] | [string, string, string | number];

function runRuby(
  args: string[],
  input: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ruby', args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('Ruby Flipper 0.25 (ActiveRecord adapter) and flagtrail share PostgreSQL tables', () => {
  let db: PrismaTestDatabase;
  let adapter: PrismaFlagAdapter;

  async function flipper(steps: Step[], enabled: Record<string, string[]> = {}): Promise<RubyAnswer> {
    const { code, stdout, stderr } = await runRuby([SCRIPT], JSON.stringify({ steps, enabled }), {
      DATABASE_URL: db.url,
    });
    if (code !== 0) throw new Error(`Ruby Flipper exited with ${code}:\n${stderr}`);
    return JSON.parse(stdout) as RubyAnswer;
  }

  beforeAll(async () => {
    let probe: Awaited<ReturnType<typeof runRuby>>;
    try {
      probe = await runRuby(
        ['-e', "require 'active_record'; require 'pg'; require 'flipper/adapters/active_record'"],
        '',
      );
    } catch (error) {
      throw new Error(`Ruby is not installed; ${INSTALL}`, { cause: error });
    }
    if (probe.code !== 0) {
      throw new Error(`Ruby Flipper's ActiveRecord adapter cannot be loaded; ${INSTALL}\n${probe.stderr}`);
    }
    db = await createPrismaTestDatabase('postgresql');
    adapter = new PrismaFlagAdapter(db.prisma);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('flagtrail reads every gate Ruby Flipper writes', async () => {
    await flipper([
      ['enable_actor', 'rb_gates', '42'],
      ['enable_actor', 'rb_gates', '7'],
      ['enable_group', 'rb_gates', 'admins'],
      ['enable_group', 'rb_gates', 'staff'],
      ['enable_percentage_of_actors', 'rb_gates', 12.5],
      ['enable_percentage_of_time', 'rb_gates', 5],
      ['enable_actor', 'rb_bool', 'x'],
      ['enable', 'rb_bool'],
      ['add', 'rb_added'],
      ['enable_actor', 'rb_removed', '1'],
      ['remove', 'rb_removed'],
      ['enable_actor', 'rb_disabled', '1'],
      ['enable_actor', 'rb_disabled', '2'],
      ['disable_actor', 'rb_disabled', '1'],
      ['enable_percentage_of_time', 'rb_disabled', 40],
      ['disable_percentage_of_time', 'rb_disabled'],
      ['enable_group', 'rb_cleared', 'admins'],
      ['clear', 'rb_cleared'],
    ]);
    expect((await adapter.features()).sort()).toEqual([
      'rb_added',
      'rb_bool',
      'rb_cleared',
      'rb_disabled',
      'rb_gates',
    ]);
    const all = await adapter.getAll();
    expect(all.rb_gates).toEqual({
      ...defaultGates(),
      actors: ['42', '7'],
      groups: ['admins', 'staff'],
      percentageOfActors: 12.5,
      percentageOfTime: 5,
    });
    expect(all.rb_bool).toEqual({ ...defaultGates(), boolean: true });
    expect(all.rb_added).toEqual(defaultGates());
    expect(all.rb_disabled).toEqual({ ...defaultGates(), actors: ['2'] });
    expect(all.rb_cleared).toEqual(defaultGates());
    expect(await adapter.state('rb_removed')).toEqual({ exists: false, gates: defaultGates() });
  });

  it('Ruby Flipper reads every gate flagtrail writes, through the audit trail, and evaluates it alike', async () => {
    const flags = withAuditTrail(adapter);
    await flags.enable('ft_gates', 'actors', '42');
    await flags.enable('ft_gates', 'actors', '7');
    await flags.enable('ft_gates', 'groups', 'admins');
    await flags.enable('ft_gates', 'percentageOfActors', 12.5);
    await flags.enable('ft_gates', 'percentageOfTime', 5);
    await flags.enable('ft_bool', 'actors', 'x');
    await flags.enable('ft_bool', 'boolean', true);
    await flags.add('ft_added');
    await flags.enable('ft_removed', 'actors', '1');
    await flags.remove('ft_removed');
    await flags.enable('ft_disabled', 'actors', '1');
    await flags.enable('ft_disabled', 'actors', '2');
    await flags.disable('ft_disabled', 'actors', '1');
    await flags.enable('ft_disabled', 'percentageOfActors', 40);
    await flags.disable('ft_disabled', 'percentageOfActors', 40);
    await flags.enable('ft_bucket', 'percentageOfActors', 30);
    // An expression gate (Flipper 1.x) next to 0.25 gates: the older Flipper ignores the row.
    await flags.enable('ft_expression', 'expression', { Equal: [{ Property: 'plan' }, 'pro'] });
    await flags.enable('ft_expression', 'groups', 'staff');

    const actors = Array.from({ length: 300 }, (_, i) => String(i + 1));
    const ruby = await flipper([], { ft_gates: ['42', '7', '8'], ft_bool: ['anyone'], ft_bucket: actors });

    expect(ruby.features).toEqual(
      expect.arrayContaining([
        'ft_added',
        'ft_bool',
        'ft_bucket',
        'ft_disabled',
        'ft_expression',
        'ft_gates',
      ]),
    );
    expect(ruby.features).not.toContain('ft_removed');
    expect(ruby.state.ft_gates).toEqual({
      boolean: false,
      actors: ['42', '7'],
      groups: ['admins'],
      percentage_of_actors: 12.5,
      percentage_of_time: 5,
    });
    expect(ruby.state.ft_bool?.boolean).toBe(true);
    expect(ruby.state.ft_bool?.actors).toEqual([]);
    expect(ruby.state.ft_added).toEqual({
      boolean: false,
      actors: [],
      groups: [],
      percentage_of_actors: 0,
      percentage_of_time: 0,
    });
    expect(ruby.state.ft_disabled?.actors).toEqual(['2']);
    expect(ruby.state.ft_disabled?.percentage_of_actors).toBe(0);
    expect(ruby.state.ft_expression?.groups).toEqual(['staff']);

    expect(ruby.enabled.ft_bool).toEqual(['anyone']);
    // Actor 8 gets in only if it falls in the 12.5 % bucket; Flipper and flagtrail must agree.
    const eight = inPercentageBucket('ft_gates', '8', 12.5);
    expect(ruby.enabled.ft_gates).toEqual(eight ? ['42', '7', '8'] : ['42', '7']);
    const ours = actors.filter((id) => inPercentageBucket('ft_bucket', id, 30));
    expect(ours.length).toBeGreaterThan(50);
    expect(ruby.enabled.ft_bucket).toEqual(ours);
  });

  it('a flag changed by Ruby between two flagtrail writes is audited from its real state', async () => {
    const flags = withAuditTrail(adapter);
    await flags.enable('shared', 'actors', 'node');
    await flipper([['enable_actor', 'shared', 'ruby']]);
    await flags.enable('shared', 'groups', 'admins');
    const [latest] = await flags.history({ feature: 'shared', limit: 1 });
    expect(latest?.before.gates.actors).toEqual(['node', 'ruby']);
    expect(latest?.after.gates).toEqual({ ...defaultGates(), actors: ['node', 'ruby'], groups: ['admins'] });
  });
});
