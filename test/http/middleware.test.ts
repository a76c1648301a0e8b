import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultRequestContext } from '../../src/core/request-context.js';
import * as express from '../../src/express/index.js';
import * as fastify from '../../src/fastify/index.js';
import * as root from '../../src/index.js';
import { FlagTrailError, withActor } from '../../src/index.js';
import * as koa from '../../src/koa/index.js';
import * as memory from '../../src/memory/index.js';
import {
  type AppOptions,
  allEntries,
  type Flagtrail,
  FRAMEWORKS,
  type RunningApp,
  send,
  startApp,
} from './harness.js';

const flagtrail: Flagtrail = { root, memory, express, koa, fastify };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const running: RunningApp[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.close()));
});

function trail(options?: Parameters<typeof root.withAuditTrail>[1]) {
  return root.withAuditTrail(new memory.MemoryFlagAdapter(), options);
}

async function start(options: Omit<AppOptions, 'flagtrail'>): Promise<RunningApp> {
  const app = await startApp({ flagtrail, ...options });
  running.push(app);
  return app;
}

const enableCheckout = {
  method: 'POST',
  path: '/flags/checkout/enable',
  body: { gate: 'boolean', value: true },
} as const;

describe.each(FRAMEWORKS)('%s auditActor', (framework) => {
  it('attributes a change to the user the resolver returns, with the default context', async () => {
    const audited = trail();
    const app = await start({ framework, audited });
    const res = await send(app.port, {
      ...enableCheckout,
      headers: { 'x-user': 'ada', 'x-request-id': 'req-42', 'user-agent': 'flagtrail-test/1' },
    });
    expect(res.status).toBe(200);
    const [entry, ...rest] = await allEntries(audited);
    expect(rest).toEqual([]);
    expect(entry?.actor).toEqual({ id: 'ada', type: 'user' });
    expect(entry?.context).toEqual({ requestId: 'req-42', ip: '127.0.0.1', userAgent: 'flagtrail-test/1' });
  });

  it('attributes a request without a user to the trail system actor', async () => {
    const audited = trail({ systemActor: { id: 'cron', type: 'system' } });
    const app = await start({ framework, audited });
    const who = await send(app.port, { method: 'GET', path: '/whoami' });
    expect(who.json).toEqual({ actor: null, context: null });
    expect((await send(app.port, enableCheckout)).status).toBe(200);
    const entries = await allEntries(audited);
    expect(entries.map((e) => e.actor)).toEqual([{ id: 'cron', type: 'system' }]);
  });

  it('does not let an anonymous request inherit the actor of the code that started the server', async () => {
    const audited = trail();
    const app = await withActor({ id: 'deployer' }, () => start({ framework, audited }));
    expect((await send(app.port, { method: 'GET', path: '/whoami' })).json).toEqual({
      actor: null,
      context: null,
    });
    const named = await send(app.port, { method: 'GET', path: '/whoami', headers: { 'x-user': 'ada' } });
    expect((named.json as { actor: unknown }).actor).toEqual({ id: 'ada', type: 'user' });
  });

  it('accepts an async resolver', async () => {
    const audited = trail();
    const app = await start({
      framework,
      audited,
      resolve: async (headers) => {
        await new Promise((r) => setImmediate(r));
        return { id: `async-${String(headers['x-user'])}`, label: 'Async' };
      },
    });
    expect((await send(app.port, { ...enableCheckout, headers: { 'x-user': 'bo' } })).status).toBe(200);
    expect((await allEntries(audited))[0]?.actor).toEqual({ id: 'async-bo', label: 'Async' });
  });

  it('generates a request id when x-request-id is missing or not a sane id', async () => {
    const audited = trail();
    const app = await start({ framework, audited });
    const ids: unknown[] = [];
    for (const header of [undefined, 'has spaces in it', 'x'.repeat(201), '']) {
      const res = await send(app.port, {
        method: 'GET',
        path: '/whoami',
        headers: { 'x-user': 'ada', ...(header === undefined ? {} : { 'x-request-id': header }) },
      });
      ids.push((res.json as { context: { requestId: unknown } }).context.requestId);
    }
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('merges the context option over the defaults; undefined removes a default field', async () => {
    const audited = trail();
    const app = await start({
      framework,
      audited,
      context: (headers) => ({ reason: String(headers['x-reason']), ip: undefined, tenant: { id: 7 } }),
    });
    const res = await send(app.port, {
      ...enableCheckout,
      headers: { 'x-user': 'ada', 'x-reason': 'launch', 'x-request-id': 'r1', 'user-agent': 'ua' },
    });
    expect(res.status).toBe(200);
    expect((await allEntries(audited))[0]?.context).toEqual({
      requestId: 'r1',
      userAgent: 'ua',
      reason: 'launch',
      tenant: { id: 7 },
    });
  });

  it('sends a throwing resolver to the error path and records nothing', async () => {
    const audited = trail();
    const seen: unknown[] = [];
    const app = await start({
      framework,
      audited,
      observeError: (error) => seen.push(error),
      resolve: () => {
        throw new Error('session store unreachable');
      },
    });
    const res = await send(app.port, { ...enableCheckout, headers: { 'x-user': 'ada' } });
    expect(res.status).toBe(500);
    if (framework === 'fastify') expect(res.json).toMatchObject({ code: 'INVALID_ACTOR', statusCode: 500 });
    expect(await allEntries(audited)).toEqual([]);
    expect(await audited.features()).toEqual([]);
    expect(seen).toHaveLength(1);
    const error = seen[0] as FlagTrailError;
    expect(error).toBeInstanceOf(FlagTrailError);
    expect(error.code).toBe('INVALID_ACTOR');
    expect(error.message).toBe(`${framework} auditActor: resolve(request) threw: session store unreachable`);
    expect((error.cause as Error).message).toBe('session store unreachable');
  });

  it('keeps the HTTP status of an auth error thrown by the resolver', async () => {
    const audited = trail();
    const app = await start({
      framework,
      audited,
      resolve: () => {
        throw Object.assign(new Error('bad token'), { status: 401 });
      },
    });
    const res = await send(app.port, enableCheckout);
    expect(res.status).toBe(401);
    expect(await allEntries(audited)).toEqual([]);
  });

  it('answers INVALID_ACTOR when the resolver returns something that is not an actor', async () => {
    for (const bad of ['ada', { id: '' }, { id: 42 }, { id: 'a', label: 3 }]) {
      const audited = trail();
      const seen: unknown[] = [];
      const app = await start({
        framework,
        audited,
        observeError: (error) => seen.push(error),
        resolve: () => bad as never,
      });
      const res = await send(app.port, enableCheckout);
      expect(res.status).toBe(500);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ name: 'FlagTrailError', code: 'INVALID_ACTOR' });
      expect((seen[0] as Error).message).toContain('resolve(request) must return an actor');
      expect(await allEntries(audited)).toEqual([]);
      await running.pop()?.close();
    }
  });

  it('answers INVALID_CONTEXT when the context option throws or returns a non-object', async () => {
    const cases: Array<() => never> = [
      () => {
        throw new Error('no tenant');
      },
      () => 'reason' as never,
      () => ({ reason: 12 }) as never,
    ];
    for (const context of cases) {
      const audited = trail();
      const seen: unknown[] = [];
      const app = await start({ framework, audited, context, observeError: (error) => seen.push(error) });
      expect((await send(app.port, { ...enableCheckout, headers: { 'x-user': 'ada' } })).status).toBe(500);
      expect(seen[0]).toMatchObject({ name: 'FlagTrailError', code: 'INVALID_CONTEXT' });
      expect(await allEntries(audited)).toEqual([]);
      await running.pop()?.close();
    }
  });

  it('validates its options when created', () => {
    const make = flagtrail[framework].auditActor as (options: unknown) => unknown;
    const bad: Array<[unknown, string]> = [
      [undefined, 'takes an object with a resolve function, got undefined'],
      [{}, 'resolve must be a function'],
      [{ resolve: 'user' }, 'resolve must be a function (request) => actor | undefined, got "user"'],
      [{ resolve: () => undefined, context: {} }, 'context must be a function'],
      [{ resolve: () => undefined, resolver: () => undefined }, 'unknown option "resolver"'],
    ];
    for (const [options, message] of bad) {
      let thrown: unknown;
      try {
        make(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(FlagTrailError);
      expect((thrown as FlagTrailError).code).toBe('INVALID_OPTION');
      expect((thrown as FlagTrailError).message).toContain(message);
      expect((thrown as FlagTrailError).message).toContain(`${framework} auditActor`);
    }
  });
});

describe('fastify auditActor hooks', () => {
  it('refuses an unknown hook', () => {
    expect(() => fastify.auditActor({ resolve: () => undefined, hook: 'onSend' as never })).toThrow(
      /hook must be one of onRequest, preParsing, preValidation, preHandler, got "onSend"/,
    );
  });

  it('keeps the actor for a body that arrives after the hooks ran (slow client)', async () => {
    // The body's 'end' event fires from the socket, outside the onRequest hook's async context;
    // Fastify's content-type parser carries the context across it.
    const audited = trail();
    const app = Fastify();
    let readyForBody!: () => void;
    const hooksDone = new Promise<void>((resolve) => {
      readyForBody = resolve;
    });
    await app.register(fastify.auditActor({ resolve: (req) => ({ id: String(req.headers['x-user']) }) }));
    app.addHook('preParsing', (_req, _reply, payload, done) => {
      readyForBody();
      done(null, payload);
    });
    app.post<{ Body: { value: string } }>('/slow', async (req) => {
      await audited.enable('slow', 'actors', req.body.value);
      return { actor: root.currentActor() ?? null };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const body = JSON.stringify({ value: 'member-1' });
      const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: (app.server.address() as AddressInfo).port,
            method: 'POST',
            path: '/slow',
            headers: {
              'x-user': 'slow-sam',
              'content-type': 'application/json',
              'content-length': body.length,
            },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => {
              text += c.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        req.flushHeaders();
        void hooksDone.then(() => req.end(body));
      });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.text)).toEqual({ actor: { id: 'slow-sam' } });
      expect((await allEntries(audited)).map((e) => e.actor.id)).toEqual(['slow-sam']);
    } finally {
      await app.close();
    }
  });

  it("restores each request's own actor after a hook that resumes requests from a shared queue", async () => {
    // A limiter-style preParsing hook: requests wait in a queue that the last arrival drains, so
    // every request resumes inside that arrival's async context. Without the plugin re-entering
    // the scope in preValidation, the others would run as the last arrival's user.
    const audited = trail();
    const app = Fastify();
    await app.register(fastify.auditActor({ resolve: (req) => ({ id: String(req.headers['x-user']) }) }));
    const waiting: Array<() => void> = [];
    const batch = 5;
    app.addHook('preParsing', (_req, _reply, payload, done) => {
      waiting.push(() => done(null, payload));
      if (waiting.length === batch) {
        const release = waiting.splice(0);
        setImmediate(() => {
          for (const resume of release) resume();
        });
      }
    });
    app.post<{ Body: { value: string } }>('/queued', async (req) => {
      await audited.enable('queued', 'actors', req.body.value);
      return { actor: root.currentActor()?.id ?? null };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const users = Array.from({ length: batch }, (_, i) => `queued-${i}`);
      const replies = await Promise.all(
        users.map((user) =>
          send(port, { method: 'POST', path: '/queued', headers: { 'x-user': user }, body: { value: user } }),
        ),
      );
      expect(replies.map((r) => (r.json as { actor: unknown }).actor)).toEqual(users);
      const entries = await allEntries(audited);
      expect(entries).toHaveLength(batch);
      for (const entry of entries) expect(entry.actor.id).toBe(entry.value);
    } finally {
      await app.close();
    }
  });

  it("with hook 'preHandler', resolves after authentication hooks that run in preValidation", async () => {
    const audited = trail();
    const app = Fastify();
    app.decorateRequest('user', null);
    app.addHook('preValidation', async (req) => {
      (req as unknown as { user: string | null }).user = String(req.headers['x-user'] ?? '') || null;
    });
    await app.register(
      fastify.auditActor({
        hook: 'preHandler',
        resolve: (req) => {
          const user = (req as unknown as { user: string | null }).user;
          return user ? { id: user } : undefined;
        },
      }),
    );
    app.post('/flags', async () => {
      await audited.enable('late', 'boolean', true);
      return { actor: root.currentActor() ?? null };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await send((app.server.address() as AddressInfo).port, {
        method: 'POST',
        path: '/flags',
        headers: { 'x-user': 'kim' },
        body: {},
      });
      expect(res.json).toEqual({ actor: { id: 'kim' } });
      expect((await allEntries(audited))[0]?.actor).toEqual({ id: 'kim' });
    } finally {
      await app.close();
    }
  });

  it('can be registered twice without the two instances sharing a slot', async () => {
    const app = Fastify();
    await app.register(fastify.auditActor({ resolve: () => ({ id: 'first' }) }));
    await app.register(fastify.auditActor({ resolve: () => ({ id: 'second' }) }));
    app.post('/who', async () => ({ actor: root.currentActor() ?? null }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await send((app.server.address() as AddressInfo).port, {
        method: 'POST',
        path: '/who',
        body: {},
      });
      // The later registration opens the inner scope.
      expect(res.json).toEqual({ actor: { id: 'second' } });
    } finally {
      await app.close();
    }
  });
});

describe('defaultRequestContext', () => {
  it('takes the first of repeated headers and strips control characters from the user agent', () => {
    const context = defaultRequestContext({
      ip: '10.0.0.1',
      userAgent: ['agent\u0007one', 'two'],
      requestIdHeader: ['first-id', 'second-id'],
    });
    expect(context).toEqual({ requestId: 'first-id', ip: '10.0.0.1', userAgent: 'agentone' });
  });

  it('caps a long user agent and leaves out an unknown ip', () => {
    const context = defaultRequestContext({
      ip: undefined,
      userAgent: 'u'.repeat(2000),
      requestIdHeader: undefined,
    });
    expect(context.userAgent).toHaveLength(512);
    expect(context).not.toHaveProperty('ip');
    expect(context.requestId).toMatch(UUID);
  });
});
