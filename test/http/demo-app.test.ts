// The demo app end to end: the real `examples/express-sqlite/demo.ts` in a child process, on a
// temporary SQLite file, driven over HTTP.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demo = path.join(root, 'examples/express-sqlite/demo.ts');
// tsx in the repo root maps `flagtrail` to src/ through the root tsconfig's paths.
const env = { ...process.env };

interface Entry {
  id: string;
  createdAt: string;
  feature: string;
  operation: string;
  gate: string | null;
  value: unknown;
  actor: { id: string; label?: string; type?: string };
  context: Record<string, unknown>;
  lines: string[];
}

let tmp: string;
let child: ChildProcess | undefined;
let base: string;

function startServing(dbFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', demo, '--serve', '--port', '0', '--db', dbFile],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /Serving the admin API on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    proc.once('exit', (code) =>
      reject(new Error(`demo exited with ${code} before serving:\n${out}\n${err}`)),
    );
  });
}

async function call(
  method: string,
  url: string,
  options: { user?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
) {
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const res = await fetch(new URL(url, base), {
    method,
    headers: {
      ...(options.user ? { 'x-demo-user': options.user } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function history(query = ''): Promise<Entry[]> {
  const res = await call('GET', `/api/history${query}`);
  expect(res.status).toBe(200);
  return res.json.entries as Entry[];
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'flagtrail-demo-'));
  base = await startServing(path.join(tmp, 'serve.db'));
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await rm(tmp, { recursive: true, force: true });
});

describe('examples/express-sqlite', () => {
  it('recorded the scripted changes of both users, without the no-op', async () => {
    const entries = (await history()).reverse();
    expect(
      entries.map((e) => [e.actor.label, e.feature, e.lines.join('; '), e.context.reason ?? '']),
    ).toEqual([
      ['Ada', 'checkout', 'feature: added', 'new checkout flow'],
      ['Ada', 'checkout', 'actors: +User;42', 'try it on one account'],
      ['Grace', 'checkout', 'percentageOfActors: 0 -> 10', 'start rollout'],
      ['Grace', 'checkout', 'percentageOfActors: 10 -> 25', 'metrics look good'],
      ['Ada', 'checkout', 'groups: +staff', ''],
      ['Grace', 'search', 'feature: added; boolean: off -> on', 'launch'],
      ['Ada', 'checkout', 'actors: -User;42', 'covered by the rollout'],
    ]);
    for (const entry of entries) {
      expect(entry.context).toMatchObject({ ip: '127.0.0.1' });
      expect(entry.context.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('lists flags with their state', async () => {
    const res = await call('GET', '/api/flags');
    expect(res.status).toBe(200);
    expect(res.json.flags).toEqual([
      {
        feature: 'checkout',
        state: 'conditional',
        gates: {
          boolean: false,
          actors: [],
          groups: ['staff'],
          percentageOfActors: 25,
          percentageOfTime: 0,
          expression: null,
        },
      },
      expect.objectContaining({ feature: 'search', state: 'on' }),
    ]);
    const one = await call('GET', '/api/flags/nothing-here');
    expect(one.json).toMatchObject({ feature: 'nothing-here', exists: false, state: 'off' });
  });

  it('filters the history by feature, actor, operation, gate, time and cursor', async () => {
    expect((await history('?feature=search')).map((e) => e.feature)).toEqual(['search']);
    expect((await history('?actorId=u-grace')).every((e) => e.actor.id === 'u-grace')).toBe(true);
    expect(await history('?actorId=u-grace')).toHaveLength(3);
    expect((await history('?gate=percentageOfActors')).map((e) => e.value)).toEqual([25, 10]);
    expect((await history('?operation=add')).map((e) => e.feature)).toEqual(['checkout']);
    expect(await history('?operation=add,disable')).toHaveLength(2);
    const all = await history();
    const page1 = await history('?limit=3');
    const page2 = await history(`?limit=3&before=${page1.at(-1)!.id}`);
    expect([...page1, ...page2].map((e) => e.id)).toEqual(all.slice(0, 6).map((e) => e.id));
    const oldest = all.at(-1)!;
    expect(await history(`?until=${encodeURIComponent(oldest.createdAt)}`)).toEqual([]);
    expect((await history(`?since=${encodeURIComponent(all[0]!.createdAt)}`)).map((e) => e.id)).toContain(
      all[0]!.id,
    );
  });

  it('answers bad input with 400, the FlagTrailError code and message, and records nothing', async () => {
    const before = (await history()).length;
    const cases: Array<
      [string, string, { user?: string; body?: unknown; raw?: string }, number, string, RegExp]
    > = [
      [
        'POST',
        '/api/flags/checkout/colour/enable',
        { user: 'ada', body: { value: 'x' } },
        400,
        'INVALID_GATE',
        /unknown gate "colour"/,
      ],
      [
        'POST',
        '/api/flags/checkout/percentageOfActors/enable',
        { user: 'ada', body: { value: 150 } },
        400,
        'INVALID_VALUE',
        /between 0 and 100, got 150/,
      ],
      [
        'POST',
        '/api/flags/checkout/percentageOfTime/enable',
        { user: 'ada', body: { value: '25' } },
        400,
        'INVALID_VALUE',
        /finite number/,
      ],
      [
        'POST',
        '/api/flags/checkout/actors/enable',
        { user: 'ada', body: { value: '' } },
        400,
        'INVALID_VALUE',
        /actor id must not be empty/,
      ],
      [
        'POST',
        '/api/flags/checkout/groups/enable',
        { user: 'ada', body: {} },
        400,
        'INVALID_VALUE',
        /group name must be a string/,
      ],
      [
        'POST',
        '/api/flags/checkout/boolean/enable',
        { user: 'ada', body: { value: false } },
        400,
        'INVALID_VALUE',
        /takes true/,
      ],
      [
        'POST',
        '/api/flags/checkout/actors/enable',
        { user: 'ada', body: { value: 'x', reason: 42 } },
        400,
        'INVALID_CONTEXT',
        /reason must be a string/,
      ],
      [
        'POST',
        '/api/flags/checkout/actors/enable',
        { user: 'ada', body: { value: 'x', who: 'me' } },
        400,
        'INVALID_VALUE',
        /unknown body field "who"/,
      ],
      [
        'POST',
        '/api/flags/checkout/actors/enable',
        { user: 'ada', body: ['x'] },
        400,
        'INVALID_VALUE',
        /JSON object/,
      ],
      [
        'POST',
        '/api/flags/checkout/actors/enable',
        { user: 'ada', raw: '{"value": ' },
        400,
        'INVALID_JSON',
        /JSON/,
      ],
      ['POST', `/api/flags/${'f'.repeat(256)}`, { user: 'ada' }, 400, 'INVALID_FEATURE', /at most 255/],
      [
        'POST',
        '/api/flags/checkout/actors/enable',
        { body: { value: 'x' } },
        401,
        'UNAUTHENTICATED',
        /needs a user/,
      ],
      [
        'POST',
        '/api/flags/checkout/actors/enable',
        { user: 'mallory', body: { value: 'x' } },
        401,
        'UNKNOWN_USER',
        /unknown demo user "mallory"/,
      ],
      [
        'GET',
        '/api/history?feature[$ne]=x',
        {},
        400,
        'INVALID_QUERY',
        /unknown history filter "feature\[\$ne\]"/,
      ],
      ['GET', '/api/history?feature=a&feature=b', {}, 400, 'INVALID_QUERY', /feature must be given once/],
      ['GET', '/api/history?actorId[]=u-ada', {}, 400, 'INVALID_QUERY', /unknown history filter/],
      ['GET', '/api/history?color=red', {}, 400, 'INVALID_QUERY', /unknown history filter "color"/],
      ['GET', '/api/history?limit=abc', {}, 400, 'INVALID_QUERY', /limit must be a whole number/],
      ['GET', '/api/history?limit=5000', {}, 400, 'INVALID_QUERY', /limit must be an integer from 1 to 1000/],
      ['GET', '/api/history?limit=0', {}, 400, 'INVALID_QUERY', /limit must be an integer from 1 to 1000/],
      [
        'GET',
        '/api/history?operation=explode',
        {},
        400,
        'INVALID_QUERY',
        /unknown history operation "explode"/,
      ],
      ['GET', '/api/history?gate=colour', {}, 400, 'INVALID_QUERY', /unknown gate/],
      ['GET', '/api/history?since=yesterday', {}, 400, 'INVALID_QUERY', /since must be a date/],
      [
        'GET',
        '/api/history?before=not-an-id',
        {},
        400,
        'INVALID_QUERY',
        /cursor "before" must be an entry id/,
      ],
      ['GET', '/api/history?feature=', {}, 400, 'INVALID_QUERY', /feature must be a non-empty string/],
    ];
    for (const [method, url, options, status, code, message] of cases) {
      const res = await call(method, url, options);
      expect({ url, status: res.status, code: res.json.code }).toEqual({ url, status, code });
      expect(res.json.message).toMatch(message);
    }
    expect(await history()).toHaveLength(before);
  });

  it('attributes a change to its user with reason, request id, ip and user agent', async () => {
    const res = await call('POST', '/api/flags/beta/percentageOfTime/enable', {
      user: 'grace',
      body: { value: 12.5, reason: 'canary' },
      headers: { 'x-request-id': 'demo-req-1', 'user-agent': 'demo-test' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      feature: 'beta',
      state: 'conditional',
      gates: { percentageOfTime: 12.5 },
    });
    const [entry] = await history('?feature=beta');
    expect(entry).toMatchObject({
      operation: 'enable',
      gate: 'percentageOfTime',
      value: 12.5,
      actor: { id: 'u-grace', label: 'Grace', type: 'user' },
      context: { reason: 'canary', requestId: 'demo-req-1', ip: '127.0.0.1', userAgent: 'demo-test' },
      lines: ['feature: added', 'percentageOfTime: 0 -> 12.5'],
    });
  });

  it('clears and removes flags, each recorded', async () => {
    await call('POST', '/api/flags/temp/actors/enable', { user: 'ada', body: { value: 'a1' } });
    expect((await call('POST', '/api/flags/temp/clear', { user: 'grace' })).json).toMatchObject({
      state: 'off',
    });
    expect((await call('DELETE', '/api/flags/temp', { user: 'ada' })).json).toEqual({
      feature: 'temp',
      removed: true,
    });
    expect(
      (await history('?feature=temp')).map((e) => [e.operation, e.actor.id, e.lines.join('; ')]),
    ).toEqual([
      ['remove', 'u-ada', 'feature: removed'],
      ['clear', 'u-grace', 'actors: -a1'],
      ['enable', 'u-ada', 'feature: added; actors: +a1'],
    ]);
  });

  it('keeps attribution right with 60 concurrent writes from both users', async () => {
    const users = ['ada', 'grace'];
    const ids = { ada: 'u-ada', grace: 'u-grace' } as Record<string, string>;
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call('POST', `/api/flags/load-${i % 3}/actors/enable`, {
          user: users[i % 2],
          body: { value: `m-${i}` },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const entries = (await history('?limit=1000')).filter((e) => e.feature.startsWith('load-'));
    expect(entries).toHaveLength(60);
    for (const entry of entries) {
      const i = Number(String(entry.value).slice(2));
      expect(entry.actor.id).toBe(ids[users[i % 2]!]);
      expect(entry.lines).toContain(`actors: +m-${i}`);
    }
  });
});

describe('npm run demo (without --serve)', () => {
  it('prepares a fresh database, makes the changes, prints the trail and exits 0', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', demo, '--db', path.join(tmp, 'once.db')],
      { cwd: root, env },
    );
    expect(stdout).toMatch(/fresh SQLite database .*once\.db/);
    expect(stdout).toContain(
      'grace  enables checkout for actor User;42 again   200  no change, nothing recorded',
    );
    expect(stdout).toContain('tries a 150% rollout');
    expect(stdout).toContain('400  INVALID_VALUE: percentageOfActors must be between 0 and 100, got 150');
    expect(stdout).toContain('Audit trail, oldest first (7 entries; GET /api/history):');
    expect(stdout).toMatch(/^3 +\S+ +Grace +checkout +percentageOfActors: 0 -> 10 +start rollout$/m);
    expect(stdout).not.toContain('!');
  }, 120_000);
});
