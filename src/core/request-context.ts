import { randomUUID } from 'node:crypto';
import { withActor, withoutActor } from './actor-context.js';
import { describeInput, FlagTrailError, isFlagTrailError } from './errors.js';
import type { Actor, AuditContext } from './types.js';
import { validateActor, validateContext } from './validate.js';

/** What `resolve` may return: an actor, or nothing for a request without a user (the system actor applies). */
export type ResolvedActor = Actor | null | undefined;

/** Options of `auditActor()` in every framework; `Req` is the framework's request or context object. */
export interface AuditActorOptions<Req> {
  /**
   * The author of the request's flag changes, usually from the session or the authenticated
   * user. Return `undefined` for anonymous requests: their changes go to the trail's system
   * actor. May be async. A throw or an invalid actor goes to the framework's error path.
   */
  resolve: (req: Req) => ResolvedActor | PromiseLike<ResolvedActor>;
  /**
   * Extra audit context for the request, merged over the default one (`ip`, `userAgent`,
   * `requestId`). A field set to `undefined` removes the default. May be async.
   */
  context?: (req: Req) => AuditContext | undefined | PromiseLike<AuditContext | undefined>;
}

/** The framework-specific facts the default context is built from. */
export interface RequestFacts {
  ip: string | undefined;
  userAgent: string | string[] | undefined;
  requestIdHeader: string | string[] | undefined;
}

/** The actor and context one request runs with. `actor` is undefined for anonymous requests. */
export interface RequestScope {
  actor: Actor | undefined;
  context: AuditContext;
}

const MAX_REQUEST_ID_LENGTH = 200;
const MAX_USER_AGENT_LENGTH = 512;
// Visible ASCII only: a request id ends up in logs and UIs, where spaces and controls forge lines.
const REQUEST_ID = /^[\x21-\x7e]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to remove them
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;

const OPTION_KEYS = new Set(['resolve', 'context']);

/**
 * Checks `auditActor` options when the middleware is created, so a misconfigured app fails at
 * start-up instead of on its first request. `extraKeys` lists framework-specific options.
 */
export function checkAuditActorOptions<Req>(
  framework: string,
  options: unknown,
  extraKeys: readonly string[] = [],
): AuditActorOptions<Req> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `${framework} auditActor(options) takes an object with a resolve function, got ${describeInput(options)}`,
    );
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.has(key) && !extraKeys.includes(key)) {
      const known = [...OPTION_KEYS, ...extraKeys].join(', ');
      throw new FlagTrailError(
        'INVALID_OPTION',
        `${framework} auditActor: unknown option ${describeInput(key)}; expected ${known}`,
      );
    }
  }
  if (typeof o.resolve !== 'function') {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `${framework} auditActor: resolve must be a function (request) => actor | undefined, got ${describeInput(o.resolve)}`,
    );
  }
  if (o.context !== undefined && typeof o.context !== 'function') {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `${framework} auditActor: context must be a function (request) => context, got ${describeInput(o.context)}`,
    );
  }
  return o as unknown as AuditActorOptions<Req>;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The context every request gets: the client ip as the framework reports it (so `trust proxy`
 * settings apply), the user agent, and the `x-request-id` header when it is a sane id, otherwise
 * a fresh UUID so every change can still be traced to one request.
 */
export function defaultRequestContext(facts: RequestFacts): AuditContext {
  const context: AuditContext = {};
  const header = firstHeader(facts.requestIdHeader)?.trim();
  context.requestId =
    header !== undefined && header.length <= MAX_REQUEST_ID_LENGTH && REQUEST_ID.test(header)
      ? header
      : randomUUID();
  if (typeof facts.ip === 'string' && facts.ip.length > 0) context.ip = facts.ip;
  const userAgent = firstHeader(facts.userAgent);
  if (typeof userAgent === 'string' && userAgent.length > 0) {
    context.userAgent = userAgent.replace(CONTROL_CHARS, '').slice(0, MAX_USER_AGENT_LENGTH);
  }
  return context;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : describeInput(error);
}

// An auth failure thrown by resolve (401, 403) should still answer with its own status: copy the
// HTTP status fields the three frameworks read onto the wrapping error.
function keepHttpStatus(wrapper: FlagTrailError, cause: unknown): FlagTrailError {
  if (cause === null || typeof cause !== 'object') return wrapper;
  const c = cause as { status?: unknown; statusCode?: unknown; expose?: unknown };
  const status = typeof c.status === 'number' ? c.status : c.statusCode;
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599) {
    Object.assign(wrapper, { status, statusCode: status, expose: c.expose === true });
  }
  return wrapper;
}

/**
 * Runs the user's `resolve` and `context` for one request and validates what they return.
 * Rejects with a `FlagTrailError` (`INVALID_ACTOR` or `INVALID_CONTEXT`, the original error as
 * `cause`) so the middleware can hand it to the framework's error path.
 */
export async function resolveRequestScope<Req>(
  framework: string,
  options: AuditActorOptions<Req>,
  req: Req,
  facts: RequestFacts,
): Promise<RequestScope> {
  let resolved: unknown;
  try {
    resolved = await options.resolve(req);
  } catch (error) {
    if (isFlagTrailError(error)) throw error;
    throw keepHttpStatus(
      new FlagTrailError(
        'INVALID_ACTOR',
        `${framework} auditActor: resolve(request) threw: ${messageOf(error)}`,
        {
          cause: error,
        },
      ),
      error,
    );
  }
  let actor: Actor | undefined;
  if (resolved !== undefined && resolved !== null) {
    try {
      actor = validateActor(resolved);
    } catch (error) {
      throw new FlagTrailError(
        'INVALID_ACTOR',
        `${framework} auditActor: resolve(request) must return an actor { id, label?, type? } or undefined: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
  const context = defaultRequestContext(facts);
  if (options.context === undefined) return { actor, context };
  let extra: unknown;
  try {
    extra = await options.context(req);
  } catch (error) {
    if (isFlagTrailError(error)) throw error;
    throw keepHttpStatus(
      new FlagTrailError(
        'INVALID_CONTEXT',
        `${framework} auditActor: context(request) threw: ${messageOf(error)}`,
        {
          cause: error,
        },
      ),
      error,
    );
  }
  if (extra === undefined || extra === null) return { actor, context };
  if (typeof extra !== 'object' || Array.isArray(extra)) {
    throw new FlagTrailError(
      'INVALID_CONTEXT',
      `${framework} auditActor: context(request) must return an object, got ${describeInput(extra)}`,
    );
  }
  // Validated here, before the scope starts, so a bad context reaches the error path as a
  // rejection rather than a throw from inside the framework's `next`.
  return { actor, context: validateContext({ ...context, ...extra }) };
}

/**
 * Runs `fn` (the rest of the request) with the request's actor and context. An anonymous request
 * runs outside any actor scope, so its writes fall back to the trail's configured system actor
 * instead of inheriting an actor from wherever the server was started.
 */
export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return scope.actor === undefined ? withoutActor(fn) : withActor(scope.actor, fn, scope.context);
}
