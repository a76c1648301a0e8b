// A Koa app whose flags live in MongoDB (Ruby Flipper's document layout) with the audit trail in
// the same database, every change attributed to the user of its request. No router or body-parser
// package: the few routes are matched by hand so the example needs nothing beyond koa and mongodb.

import {
  type Actor,
  describeChange,
  FlagTrailError,
  type GateKey,
  type GateValue,
  type HistoryQuery,
  isFlagTrailError,
  withAuditTrail,
} from 'flagtrail';
import { auditActor } from 'flagtrail/koa';
import { MongoFlagAdapter } from 'flagtrail/mongodb';
import Koa, { type Context, type Next } from 'koa';
import type { Db } from 'mongodb';

export const DEMO_USERS: Readonly<Record<string, Actor>> = Object.freeze({
  ada: { id: 'u-ada', label: 'Ada', type: 'user' },
  grace: { id: 'u-grace', label: 'Grace', type: 'user' },
});
export const USER_HEADER = 'x-demo-user';

interface State {
  user?: Actor;
  body?: unknown;
}

const MAX_BODY_BYTES = 16 * 1024;
const CLIENT_ERRORS = new Set([
  'INVALID_FEATURE',
  'INVALID_GATE',
  'INVALID_VALUE',
  'INVALID_QUERY',
  'INVALID_EXPRESSION',
]);

function fail(status: number, code: string, message: string): never {
  throw Object.assign(new Error(message), { status, code });
}

// Errors become JSON { code, message }: 400 for bad input, the error's own status when it has one.
async function jsonErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (error) {
    const e = error as { status?: unknown; code?: unknown; message?: unknown };
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      ctx.status = e.status;
      ctx.body = { code: String(e.code ?? 'BAD_REQUEST'), message: String(e.message) };
    } else if (isFlagTrailError(error) && CLIENT_ERRORS.has(error.code)) {
      ctx.status = 400;
      ctx.body = { code: error.code, message: error.message };
    } else {
      ctx.status = 500;
      ctx.body = { code: isFlagTrailError(error) ? error.code : 'INTERNAL', message: 'internal error' };
      ctx.app.emit('error', error, ctx);
    }
  }
}

async function jsonBody(ctx: Context, next: Next): Promise<void> {
  if (ctx.method === 'POST' && ctx.request.length !== 0) {
    if (!ctx.is('application/json')) fail(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES)
        fail(413, 'BODY_TOO_LARGE', `the body may hold at most ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    try {
      (ctx.state as State).body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      fail(400, 'INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
    }
  }
  await next();
}

function param(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    fail(400, 'INVALID_FEATURE', 'the path is not valid percent-encoding');
  }
}

/** Builds the app on a database handle; flags and trail share it. */
export function createApp(db: Db) {
  const audited = withAuditTrail(new MongoFlagAdapter(db));
  const app = new Koa();

  app.use(jsonErrors);
  app.use(jsonBody);
  app.use(async (ctx, next) => {
    // Stand-in for authentication: the demo trusts a header.
    const name = ctx.get(USER_HEADER);
    if (name) {
      const user = DEMO_USERS[name];
      if (!user) fail(401, 'UNKNOWN_USER', `unknown demo user ${JSON.stringify(name)}; use ada or grace`);
      (ctx.state as State).user = user;
    }
    await next();
  });
  // After body parsing and authentication, before the routes.
  app.use(auditActor({ resolve: (ctx) => (ctx.state as State).user }));

  app.use(async (ctx) => {
    const state = ctx.state as State;
    if (ctx.method === 'GET' && ctx.path === '/api/flags') {
      ctx.body = { flags: await audited.getAll() };
      return;
    }
    if (ctx.method === 'GET' && ctx.path === '/api/history') {
      const query: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(ctx.query)) {
        if (typeof value !== 'string') {
          throw new FlagTrailError(
            'INVALID_QUERY',
            `history filter ${key} must be given once, as a plain string`,
          );
        }
        query[key] = key === 'limit' && /^\d{1,4}$/.test(value) ? Number(value) : value;
      }
      // history() validates the rest: unknown filters, bad dates, limits and cursors are refused
      // before anything reaches MongoDB, and every filter value is a plain string by now.
      const entries = await audited.history(query as HistoryQuery);
      ctx.body = { entries: entries.map((e) => ({ ...e, lines: describeChange(e) })) };
      return;
    }
    const match = /^\/api\/flags\/([^/]+)\/([^/]+)\/(enable|disable)$/.exec(ctx.path);
    if (ctx.method === 'POST' && match) {
      if (!state.user) fail(401, 'UNAUTHENTICATED', `changing flags needs a user: set ${USER_HEADER}`);
      const feature = param(match[1]!);
      const gate = param(match[2]!) as GateKey;
      const operation = match[3] as 'enable' | 'disable';
      const body = state.body;
      if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
        throw new FlagTrailError('INVALID_VALUE', 'the body must be a JSON object like {"value": ...}');
      }
      const given = (body as { value?: unknown } | undefined)?.value;
      const value = given === undefined && gate === 'boolean' ? operation === 'enable' : given;
      await audited[operation](feature, gate, value as GateValue);
      ctx.body = { feature, gates: await audited.get(feature) };
      return;
    }
    fail(404, 'NOT_FOUND', `no route ${ctx.method} ${ctx.path}`);
  });

  return { app, audited };
}
