// examples/koa-mongodb end to end: the example's app on a real HTTP server and this file's own
// database on the run's MongoDB wire-protocol server (test/setup/mongodb.ts), plus its main.ts.
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../examples/koa-mongodb/app.js';
import { freshDatabaseName, mongoUrl, useMongoDatabase } from '../support/mongodb.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const mongo = useMongoDatabase('koa_example');
let server: http.Server;
let base: string;

beforeAll(async () => {
  const { app } = createApp(mongo().db);
  app.silent = true;
  server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function call(method: string, url: string, user?: string, body?: unknown) {
  const res = await fetch(new URL(url, base), {
    method,
    headers: {
      ...(user ? { 'x-demo-user': user } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

type Entry = { feature: string; value: unknown; actor: { id: string }; lines: string[] };

describe('examples/koa-mongodb', () => {
  it('attributes concurrent changes from both users to the right one', async () => {
    // One flag: the trail runs writes to a flag one after another, so the requests overlap in
    // every step but the database write. Writes to different flags at once would race on
    // FerretDB, whose $addToSet is not atomic (Flipper's shared flipper_features document loses
    // members); real MongoDB applies it atomically.
    const users = ['ada', 'grace'];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call('POST', '/api/flags/koa-0/actors/enable', users[i % 2], { value: `m-${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    // A no-op: already enabled, so not recorded.
    expect((await call('POST', '/api/flags/koa-0/actors/enable', 'grace', { value: 'm-0' })).status).toBe(
      200,
    );
    const { json } = await call('GET', '/api/history?limit=1000');
    const entries = json.entries as Entry[];
    expect(entries).toHaveLength(40);
    for (const entry of entries) {
      const i = Number(String(entry.value).slice(2));
      expect(entry.actor.id).toBe(i % 2 === 0 ? 'u-ada' : 'u-grace');
      expect(entry.lines.filter((line) => line !== 'feature: added')).toEqual([`actors: +m-${i}`]);
    }
    // Whichever write came first added the flag; every other one only added its member.
    expect(entries.filter((e) => e.lines.includes('feature: added'))).toHaveLength(1);
  });

  it('filters the history and refuses operator objects and repeated filters', async () => {
    const ada = await call('GET', '/api/history?actorId=u-ada&feature=koa-0');
    expect((ada.json.entries as Entry[]).every((e) => e.actor.id === 'u-ada' && e.feature === 'koa-0')).toBe(
      true,
    );
    expect((ada.json.entries as Entry[]).length).toBeGreaterThan(0);
    for (const query of [
      'feature[$ne]=x',
      'feature=a&feature=b',
      'limit=abc',
      'limit=5000',
      'since=soon',
      'colour=red',
    ]) {
      const res = await call('GET', `/api/history?${query}`);
      expect({ query, status: res.status, code: res.json.code }).toEqual({
        query,
        status: 400,
        code: 'INVALID_QUERY',
      });
    }
  });

  it('answers bad input with 400 and the FlagTrailError code', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/api/flags/koa-x/colour/enable', { value: 1 }, 'INVALID_GATE'],
      ['/api/flags/koa-x/percentageOfActors/enable', { value: 150 }, 'INVALID_VALUE'],
      ['/api/flags/koa-x/actors/enable', { value: '' }, 'INVALID_VALUE'],
      ['/api/flags/koa-x/actors/enable', ['x'], 'INVALID_VALUE'],
    ];
    for (const [url, body, code] of cases) {
      const res = await call('POST', url, 'ada', body);
      expect({ url, status: res.status, code: res.json.code }).toEqual({ url, status: 400, code });
    }
    expect((await call('POST', '/api/flags/koa-x/actors/enable', undefined, { value: 'a' })).status).toBe(
      401,
    );
    expect((await call('POST', '/api/flags/koa-x/actors/enable', 'eve', { value: 'a' })).status).toBe(401);
    const { json } = await call('GET', '/api/history?feature=koa-x');
    expect(json.entries).toEqual([]);
  });
});

describe('examples/koa-mongodb/main.ts', () => {
  it('makes its changes on a fresh database, prints the trail and exits 0', async () => {
    const db = freshDatabaseName('koa_main');
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'examples/koa-mongodb/main.ts', '--db', db],
        { cwd: root, env: { ...process.env, MONGODB_URL: mongoUrl() } },
      );
      expect(stdout).toContain(`fresh database ${db}`);
      expect(stdout).toContain('Audit trail, newest first (3 entries):');
      expect(stdout).toMatch(/Grace +checkout +percentageOfActors: 0 -> 25/);
      expect(stdout).toMatch(/Ada +checkout +feature: added; actors: \+User;42/);
    } finally {
      await mongo().client.db(db).dropDatabase();
    }
  }, 60_000);
});
