// Shared by the in-process HTTP tests and the child processes that load the built package: real
// Express, Koa and Fastify servers on loopback, a keep-alive client and the attribution scenario.
// flagtrail itself is injected, so the same code runs against src/ and against dist/.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import type * as ExpressEntry from '../../src/express/index.js';
import type * as FastifyEntry from '../../src/fastify/index.js';
import type * as RootEntry from '../../src/index.js';
import type * as KoaEntry from '../../src/koa/index.js';
import type * as MemoryEntry from '../../src/memory/index.js';

export type Framework = 'express' | 'koa' | 'fastify';
export const FRAMEWORKS: readonly Framework[] = ['express', 'koa', 'fastify'];

/** The parts of flagtrail the harness uses, from src/ or from a built copy. */
export interface Flagtrail {
  root: Pick<typeof RootEntry, 'withAuditTrail' | 'currentActor' | 'currentContext' | 'isFlagTrailError'>;
  memory: Pick<typeof MemoryEntry, 'MemoryFlagAdapter'>;
  express: Pick<typeof ExpressEntry, 'auditActor'>;
  koa: Pick<typeof KoaEntry, 'auditActor'>;
  fastify: Pick<typeof FastifyEntry, 'auditActor'>;
}

export type Audited = ReturnType<typeof RootEntry.withAuditTrail>;
type Resolved = RootEntry.Actor | undefined;

/** How a test turns request headers into the actor; the default reads `x-user`. */
export type HeaderResolver = (headers: IncomingHttpHeaders) => Resolved | Promise<Resolved>;

export const userFromHeader: HeaderResolver = (headers) => {
  const user = headers['x-user'];
  return typeof user === 'string' && user.length > 0 ? { id: user, type: 'user' } : undefined;
};

export interface AppOptions {
  framework: Framework;
  flagtrail: Flagtrail;
  audited: Audited;
  resolve?: HeaderResolver;
  context?: (headers: IncomingHttpHeaders) => RootEntry.AuditContext | undefined;
  /** Fastify only: the hook that opens the scope. */
  hook?: FastifyEntry.AuditActorHook;
  /** Seed of the handlers' random delays, so a failing run can be replayed. */
  seed?: number;
  /** Sees every error that reaches the framework's error path, which still answers as usual. */
  observeError?: (error: unknown) => void;
}

export interface RunningApp {
  port: number;
  close(): Promise<void>;
}

/** A small seeded PRNG (mulberry32): delays vary per request but every run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Hops across the kinds of async boundary a handler may cross: microtasks, the check phase and
// real timers. Real timers are fine here: these are real servers, and the waits are 0-2 ms.
function delayer(random: () => number): () => Promise<void> {
  return async () => {
    const r = random();
    if (r < 0.25) {
      for (let i = 0; i < 1 + Math.floor(r * 20); i++) await Promise.resolve();
    } else if (r < 0.5) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    } else {
      await new Promise<void>((resolve) => setTimeout(resolve, Math.floor(random() * 3)));
    }
  };
}

interface ChangeBody {
  gate?: unknown;
  value?: unknown;
}

interface Reply {
  status: number;
  body: unknown;
}

// The route every framework serves: a random wait, the flag write, another wait, and what the
// handler saw as the current actor on both sides of the write.
function makeHandlers(opts: AppOptions) {
  const { flagtrail, audited } = opts;
  const delay = delayer(prng(opts.seed ?? 1));
  const actorId = () => flagtrail.root.currentActor()?.id ?? null;
  return {
    async change(feature: string, op: string, body: ChangeBody | undefined): Promise<Reply> {
      await delay();
      const seenBefore = actorId();
      if (op !== 'enable' && op !== 'disable') return { status: 404, body: { message: 'no such operation' } };
      try {
        await audited[op](feature, body?.gate as RootEntry.GateKey, body?.value as RootEntry.GateValue);
      } catch (error) {
        if (flagtrail.root.isFlagTrailError(error)) {
          return { status: 400, body: { code: error.code, message: error.message } };
        }
        throw error;
      }
      await delay();
      return { status: 200, body: { before: seenBefore, after: actorId() } };
    },
    whoami(): Reply {
      return {
        status: 200,
        body: {
          actor: flagtrail.root.currentActor() ?? null,
          context: flagtrail.root.currentContext() ?? null,
        },
      };
    },
  };
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** Starts one framework's app on 127.0.0.1, port 0, with `auditActor` mounted after body parsing. */
export async function startApp(opts: AppOptions): Promise<RunningApp> {
  const handlers = makeHandlers(opts);
  const resolveHeaders = opts.resolve ?? userFromHeader;
  const contextHeaders = opts.context;
  switch (opts.framework) {
    case 'express': {
      const app = express();
      app.use(express.json());
      app.use(
        opts.flagtrail.express.auditActor({
          resolve: (req) => resolveHeaders(req.headers),
          ...(contextHeaders ? { context: (req) => contextHeaders(req.headers) } : {}),
        }),
      );
      app.post('/flags/:feature/:op', async (req, res) => {
        const reply = await handlers.change(String(req.params.feature), String(req.params.op), req.body);
        res.status(reply.status).json(reply.body);
      });
      app.get('/whoami', (_req, res) => {
        res.json(handlers.whoami().body);
      });
      const observe = opts.observeError;
      if (observe) {
        app.use(
          (error: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
            observe(error);
            next(error);
          },
        );
      }
      const server = http.createServer(app);
      const port = await listen(server);
      return { port, close: () => closeServer(server) };
    }
    case 'koa': {
      const app = new Koa();
      app.silent = true;
      const observe = opts.observeError;
      if (observe) app.on('error', (error: unknown) => observe(error));
      // A small JSON body parser, so the test needs no extra package; Koa apps use koa-bodyparser.
      app.use(async (ctx, next) => {
        if (ctx.method === 'POST') {
          const chunks: Buffer[] = [];
          for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
          const text = Buffer.concat(chunks).toString('utf8');
          (ctx.request as unknown as { body: unknown }).body = text ? JSON.parse(text) : undefined;
        }
        await next();
      });
      app.use(
        opts.flagtrail.koa.auditActor({
          resolve: (ctx) => resolveHeaders(ctx.headers),
          ...(contextHeaders ? { context: (ctx) => contextHeaders(ctx.headers) } : {}),
        }),
      );
      app.use(async (ctx) => {
        const match = /^\/flags\/([^/]+)\/([^/]+)$/.exec(ctx.path);
        let reply: Reply;
        if (ctx.method === 'POST' && match) {
          const body = (ctx.request as unknown as { body?: ChangeBody }).body;
          reply = await handlers.change(decodeURIComponent(match[1]!), match[2]!, body);
        } else if (ctx.method === 'GET' && ctx.path === '/whoami') {
          reply = handlers.whoami();
        } else {
          reply = { status: 404, body: { message: 'not found' } };
        }
        ctx.status = reply.status;
        ctx.body = reply.body;
      });
      const server = http.createServer(app.callback());
      const port = await listen(server);
      return { port, close: () => closeServer(server) };
    }
    case 'fastify': {
      const app = Fastify();
      const observe = opts.observeError;
      if (observe) {
        app.addHook('onError', (_req, _reply, error, done) => {
          observe(error);
          done();
        });
      }
      await app.register(
        opts.flagtrail.fastify.auditActor({
          resolve: (req) => resolveHeaders(req.headers),
          ...(contextHeaders ? { context: (req) => contextHeaders(req.headers) } : {}),
          ...(opts.hook ? { hook: opts.hook } : {}),
        }),
      );
      app.post<{ Params: { feature: string; op: string }; Body: ChangeBody }>(
        '/flags/:feature/:op',
        async (req, reply) => {
          const result = await handlers.change(req.params.feature, req.params.op, req.body);
          return reply.code(result.status).send(result.body);
        },
      );
      app.get('/whoami', async () => handlers.whoami().body);
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      return { port, close: () => app.close() };
    }
  }
}

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface ResponseData {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}

/** One request on `agent` (keep-alive), body as JSON. */
export function send(port: number, spec: RequestSpec, agent?: http.Agent): Promise<ResponseData> {
  return new Promise((resolve, reject) => {
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: spec.method,
        path: spec.path,
        agent,
        headers: {
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          ...spec.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Sends `total` requests with at most `concurrency` in flight; results by request index. */
export async function sendMany(
  port: number,
  total: number,
  concurrency: number,
  make: (i: number) => RequestSpec,
): Promise<Array<ResponseData | Error>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const results: Array<ResponseData | Error> = new Array(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      try {
        results[i] = await send(port, make(i), agent);
      } catch (error) {
        results[i] = error as Error;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return results;
}

/** All entries of a trail, newest first, through the history cursor. */
export async function allEntries(audited: Audited): Promise<RootEntry.AuditEntry[]> {
  const out: RootEntry.AuditEntry[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await audited.history({ limit: 1000, ...(before ? { before } : {}) });
    out.push(...page);
    if (page.length < 1000) return out;
    before = page.at(-1)!.id;
  }
}

/** What the attribution scenario measured; a correct run has every counter but the sizes at 0. */
export interface AttributionReport {
  framework: Framework;
  requests: number;
  concurrency: number;
  ms: number;
  failedRequests: number;
  firstFailure: string | null;
  handlerMisattributed: number;
  expectedEntries: number;
  entries: number;
  entryMisattributed: number;
  entriesForNoOps: number;
  duplicateEntries: number;
  missingEntries: number;
  requestIdMismatch: number;
}

const FEATURES = 50;

/**
 * `total` requests, `concurrency` in flight, request i made by `user-i`. By i % 4:
 * 0 enables actor `member-i` (a change), 1 disables `pre-i` (enabled before the run: a change),
 * 2 enables the boolean gate of a flag already fully on, 3 disables an actor never enabled
 * (both no-ops). Every change must be recorded once, by its own request's user.
 */
export async function runAttribution(
  framework: Framework,
  flagtrail: Flagtrail,
  total: number,
  concurrency: number,
  seed = 7,
): Promise<AttributionReport> {
  const adapter = new flagtrail.memory.MemoryFlagAdapter();
  const audited = flagtrail.root.withAuditTrail(adapter);
  // Set-up goes to the inner adapter directly, so only the requests' changes are in the trail.
  for (let i = 0; i < total; i++) {
    if (i % 4 === 1) await adapter.enable(`load-${i % FEATURES}`, 'actors', `pre-${i}`);
  }
  for (let f = 0; f < FEATURES; f++) await adapter.add(`load-${f}`);
  await adapter.enable('always-on', 'boolean', true);

  const app = await startApp({ framework, flagtrail, audited, seed });
  const started = performance.now();
  let results: Array<ResponseData | Error>;
  try {
    results = await sendMany(app.port, total, concurrency, (i) => {
      const headers = { 'x-user': `user-${i}`, 'x-request-id': `rq-${i}` };
      const feature = `load-${i % FEATURES}`;
      switch (i % 4) {
        case 0:
          return {
            method: 'POST',
            path: `/flags/${feature}/enable`,
            headers,
            body: { gate: 'actors', value: `member-${i}` },
          };
        case 1:
          return {
            method: 'POST',
            path: `/flags/${feature}/disable`,
            headers,
            body: { gate: 'actors', value: `pre-${i}` },
          };
        case 2:
          return {
            method: 'POST',
            path: '/flags/always-on/enable',
            headers,
            body: { gate: 'boolean', value: true },
          };
        default:
          return {
            method: 'POST',
            path: `/flags/${feature}/disable`,
            headers,
            body: { gate: 'actors', value: `never-${i}` },
          };
      }
    });
  } finally {
    await app.close();
  }
  const ms = Math.round(performance.now() - started);

  let failedRequests = 0;
  let firstFailure: string | null = null;
  let handlerMisattributed = 0;
  results.forEach((r, i) => {
    if (r instanceof Error || r.status !== 200) {
      failedRequests++;
      firstFailure ??=
        r instanceof Error ? `request ${i}: ${r.message}` : `request ${i}: ${r.status} ${r.text}`;
      return;
    }
    const seen = r.json as { before?: unknown; after?: unknown };
    if (seen.before !== `user-${i}` || seen.after !== `user-${i}`) handlerMisattributed++;
  });

  const entries = await allEntries(audited);
  const seenRequests = new Set<number>();
  let entryMisattributed = 0;
  let entriesForNoOps = 0;
  let duplicateEntries = 0;
  let requestIdMismatch = 0;
  for (const entry of entries) {
    const match = typeof entry.value === 'string' ? /^(?:member|pre|never)-(\d+)$/.exec(entry.value) : null;
    if (!match) {
      entriesForNoOps++;
      continue;
    }
    const i = Number(match[1]);
    if (i % 4 >= 2) entriesForNoOps++;
    if (seenRequests.has(i)) duplicateEntries++;
    seenRequests.add(i);
    if (entry.actor.id !== `user-${i}`) entryMisattributed++;
    if (entry.context.requestId !== `rq-${i}`) requestIdMismatch++;
  }
  let expectedEntries = 0;
  let missingEntries = 0;
  for (let i = 0; i < total; i++) {
    if (i % 4 >= 2) continue;
    expectedEntries++;
    if (!seenRequests.has(i)) missingEntries++;
  }
  return {
    framework,
    requests: total,
    concurrency,
    ms,
    failedRequests,
    firstFailure,
    handlerMisattributed,
    expectedEntries,
    entries: entries.length,
    entryMisattributed,
    entriesForNoOps,
    duplicateEntries,
    missingEntries,
    requestIdMismatch,
  };
}
