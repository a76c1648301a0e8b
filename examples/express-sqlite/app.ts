// The demo's Express app: flags in SQLite through Prisma, every change attributed to the user of
// the request that made it, and a small JSON admin API over the flags and their trail.
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import {
  type Actor,
  type AuditEntry,
  describeChange,
  FlagTrailError,
  type GateKey,
  type GateValue,
  type GateValues,
  type HistoryQuery,
  isFlagTrailError,
  type Operation,
  withAuditTrail,
} from 'flagtrail';
import { auditActor } from 'flagtrail/express';
import { PrismaFlagAdapter, type PrismaFlagTrailClient } from 'flagtrail/prisma';

/** The two people who can sign in to the demo, chosen with the `x-demo-user` header. */
export const DEMO_USERS: Readonly<Record<string, Actor>> = Object.freeze({
  ada: { id: 'u-ada', label: 'Ada', type: 'user' },
  grace: { id: 'u-grace', label: 'Grace', type: 'user' },
});

export const USER_HEADER = 'x-demo-user';

declare global {
  namespace Express {
    interface Request {
      /** Set by the demo's stand-in for authentication. */
      demoUser?: Actor;
    }
  }
}

// Errors an admin caused with bad input: answered 400 with their code and message.
const CLIENT_ERRORS = new Set([
  'INVALID_FEATURE',
  'INVALID_GATE',
  'INVALID_VALUE',
  'INVALID_QUERY',
  'INVALID_EXPRESSION',
  'INVALID_CONTEXT',
]);

const HISTORY_FILTERS = [
  'feature',
  'actorId',
  'operation',
  'gate',
  'since',
  'until',
  'limit',
  'before',
] as const;
const MAX_REASON_LENGTH = 500;

/** Flipper's summary of a flag: fully on, off, or on for some actors, groups or percentages. */
function flagState(gates: GateValues): 'on' | 'off' | 'conditional' {
  if (gates.boolean) return 'on';
  const conditional =
    gates.actors.length > 0 ||
    gates.groups.length > 0 ||
    gates.percentageOfActors > 0 ||
    gates.percentageOfTime > 0 ||
    gates.expression !== null;
  return conditional ? 'conditional' : 'off';
}

function entryView(entry: AuditEntry) {
  return {
    id: entry.id,
    createdAt: entry.createdAt.toISOString(),
    feature: entry.feature,
    operation: entry.operation,
    gate: entry.gate,
    value: entry.value,
    actor: entry.actor,
    context: entry.context,
    changes: entry.changes,
    lines: describeChange(entry),
  };
}

interface ChangeBody {
  value?: unknown;
  reason?: string;
}

/** The JSON body of a write: nothing, or an object with `value` and an optional string `reason`. */
function changeBody(req: Request): ChangeBody {
  const body: unknown = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new FlagTrailError(
      'INVALID_VALUE',
      'the request body must be a JSON object like {"value": ..., "reason": "..."}',
    );
  }
  for (const key of Object.keys(body)) {
    if (key !== 'value' && key !== 'reason') {
      throw new FlagTrailError(
        'INVALID_VALUE',
        `unknown body field ${JSON.stringify(key)}; expected value, reason`,
      );
    }
  }
  const { value, reason } = body as { value?: unknown; reason?: unknown };
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) {
    throw new FlagTrailError(
      'INVALID_CONTEXT',
      `reason must be a string of at most ${MAX_REASON_LENGTH} characters`,
    );
  }
  return { value, ...(reason === undefined ? {} : { reason }) };
}

/**
 * The history filters from a query string. Every parameter must be a known filter given once as a
 * plain string: `?feature[$ne]=x` and `?feature=a&feature=b` are refused, never passed on.
 */
function historyQuery(query: Request['query']): HistoryQuery {
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (!(HISTORY_FILTERS as readonly string[]).includes(key)) {
      throw new FlagTrailError(
        'INVALID_QUERY',
        `unknown history filter ${JSON.stringify(key)}; expected ${HISTORY_FILTERS.join(', ')}`,
      );
    }
    if (typeof value !== 'string') {
      throw new FlagTrailError(
        'INVALID_QUERY',
        `history filter ${key} must be given once, as a plain string`,
      );
    }
    raw[key] = value;
  }
  const out: HistoryQuery = {};
  if (raw.feature !== undefined) out.feature = raw.feature;
  if (raw.actorId !== undefined) out.actorId = raw.actorId;
  if (raw.gate !== undefined) out.gate = raw.gate as GateKey;
  if (raw.before !== undefined) out.before = raw.before;
  if (raw.operation !== undefined) out.operation = raw.operation.split(',') as Operation[];
  for (const key of ['since', 'until'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) {
      throw new FlagTrailError('INVALID_QUERY', `history ${key} must be a date such as 2025-01-31T12:00:00Z`);
    }
    out[key] = date;
  }
  if (raw.limit !== undefined) {
    if (!/^\d{1,4}$/.test(raw.limit)) {
      throw new FlagTrailError(
        'INVALID_QUERY',
        `history limit must be a whole number, got ${JSON.stringify(raw.limit)}`,
      );
    }
    out.limit = Number(raw.limit);
  }
  return out;
}

/** Builds the app on a Prisma client whose schema has flagtrail's models. */
export function createApp(prisma: PrismaFlagTrailClient) {
  // The trail's store is inferred from the adapter: the audit table on the same client.
  const audited = withAuditTrail(new PrismaFlagAdapter(prisma));
  const app = express();

  // Order matters: parse the body, authenticate, then auditActor, then the routes.
  app.use(express.json({ limit: '16kb' }));
  app.use((req: Request, res: Response, next: NextFunction) => {
    // Stand-in for real authentication (a session, a token): the demo trusts a header.
    const name = req.get(USER_HEADER);
    if (name === undefined) return next();
    const user = DEMO_USERS[name];
    if (!user) {
      res.status(401).json({
        code: 'UNKNOWN_USER',
        message: `unknown demo user ${JSON.stringify(name)}; set ${USER_HEADER} to ${Object.keys(DEMO_USERS).join(' or ')}`,
      });
      return;
    }
    req.demoUser = user;
    next();
  });
  app.use(
    auditActor({
      resolve: (req) => req.demoUser,
      // The body's reason travels with the change; changeBody() refuses one that is not a string.
      context: (req) => {
        const reason = (req.body as { reason?: unknown } | undefined)?.reason;
        return typeof reason === 'string' ? { reason } : undefined;
      },
    }),
  );

  const requireUser = (req: Request, res: Response, next: NextFunction) => {
    if (req.demoUser) return next();
    res.status(401).json({
      code: 'UNAUTHENTICATED',
      message: `changing flags needs a user: set ${USER_HEADER} to ${Object.keys(DEMO_USERS).join(' or ')}`,
    });
  };

  app.get('/api/whoami', (req, res) => {
    res.json({ user: req.demoUser ?? null });
  });

  app.get('/api/flags', async (_req, res) => {
    const all = await audited.getAll();
    const flags = Object.keys(all)
      .sort()
      .map((feature) => ({ feature, state: flagState(all[feature]!), gates: all[feature] }));
    res.json({ flags });
  });

  app.get('/api/flags/:feature', async (req, res) => {
    const feature = String(req.params.feature);
    const [exists, gates] = await Promise.all([audited.exists(feature), audited.get(feature)]);
    res.json({ feature, exists, state: flagState(gates), gates });
  });

  const respondWithFlag = async (res: Response, feature: string) => {
    const gates = await audited.get(feature);
    res.json({ feature, state: flagState(gates), gates });
  };

  app.post('/api/flags/:feature', requireUser, async (req, res) => {
    changeBody(req);
    await audited.add(String(req.params.feature));
    await respondWithFlag(res, String(req.params.feature));
  });

  app.delete('/api/flags/:feature', requireUser, async (req, res) => {
    changeBody(req);
    await audited.remove(String(req.params.feature));
    res.json({ feature: String(req.params.feature), removed: true });
  });

  app.post('/api/flags/:feature/clear', requireUser, async (req, res) => {
    changeBody(req);
    await audited.clear(String(req.params.feature));
    await respondWithFlag(res, String(req.params.feature));
  });

  app.post('/api/flags/:feature/:gate/:operation', requireUser, async (req, res) => {
    const { feature, gate, operation } = req.params as Record<string, string>;
    if (operation !== 'enable' && operation !== 'disable') {
      res.status(404).json({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.path}` });
      return;
    }
    const body = changeBody(req);
    // The boolean gate needs no value: enabling turns it on, disabling turns the flag off.
    const value = body.value === undefined && gate === 'boolean' ? operation === 'enable' : body.value;
    await audited[operation](feature!, gate as GateKey, value as GateValue);
    await respondWithFlag(res, feature!);
  });

  app.get('/api/history', async (req, res) => {
    const entries = await audited.history(historyQuery(req.query));
    res.json({ entries: entries.map(entryView), next: entries.at(-1)?.id ?? null });
  });

  app.use((req, res) => {
    res.status(404).json({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.path}` });
  });

  const errorHandler: ErrorRequestHandler = (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // body-parser's errors (malformed JSON, too large) and errors that carry their own status.
      const code = isFlagTrailError(error)
        ? error.code
        : String((error as { type?: unknown }).type ?? 'BAD_REQUEST');
      res
        .status(status)
        .json({ code: code === 'entity.parse.failed' ? 'INVALID_JSON' : code, message: error.message });
      return;
    }
    if (isFlagTrailError(error) && CLIENT_ERRORS.has(error.code)) {
      res.status(400).json({ code: error.code, message: error.message });
      return;
    }
    process.stderr.write(
      `demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    res
      .status(500)
      .json({ code: isFlagTrailError(error) ? error.code : 'INTERNAL', message: 'internal error' });
  };
  app.use(errorHandler);

  return { app, audited };
}
