import { AsyncResource } from 'node:async_hooks';
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import { describeInput, FlagTrailError } from '../core/errors.js';
import {
  type AuditActorOptions,
  checkAuditActorOptions,
  resolveRequestScope,
  runInRequestScope,
} from '../core/request-context.js';

export type { AuditActorOptions, ResolvedActor } from '../core/request-context.js';

/** The Fastify hooks `auditActor` can resolve the actor in. */
export type AuditActorHook = 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler';

/** `auditActor` options for Fastify: the common ones plus the hook to resolve the actor in. */
export interface FastifyAuditActorOptions extends AuditActorOptions<FastifyRequest> {
  /**
   * The hook that resolves the actor and opens the scope; default `onRequest`. Hooks run in the
   * order they are added, so register `auditActor` after the hooks that authenticate. Choose
   * `preHandler` when authentication happens in `preValidation` or `preHandler`.
   */
  hook?: AuditActorHook;
}

const HOOKS: readonly AuditActorHook[] = ['onRequest', 'preParsing', 'preValidation', 'preHandler'];

type ScopedRequest = FastifyRequest & Record<symbol, AsyncResource | null>;

/**
 * A Fastify 5 plugin that runs the rest of each request as its user, so every flag change made
 * through an audited adapter is attributed to that user. A throw in `resolve` goes to Fastify's
 * error handler.
 *
 * When the scope opens in `onRequest` or `preParsing`, the plugin re-enters it in
 * `preValidation`: a hook or parser that resumes requests from a shared callback (a limiter
 * queue, a pooled stream) would otherwise continue one request in another request's context.
 *
 * @example
 * ```ts
 * await app.register(auditActor({ resolve: (req) => (req.user ? { id: req.user.id } : undefined) }));
 * ```
 */
export function auditActor(options: FastifyAuditActorOptions): FastifyPluginCallback {
  const opts = checkAuditActorOptions<FastifyRequest>('fastify', options, [
    'hook',
  ]) as FastifyAuditActorOptions;
  const hook = opts.hook ?? 'onRequest';
  if (!HOOKS.includes(hook)) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `fastify auditActor: hook must be one of ${HOOKS.join(', ')}, got ${describeInput(hook)}`,
    );
  }
  const reenter = hook === 'onRequest' || hook === 'preParsing';
  // One key per plugin instance: registering twice must not make two instances share a slot.
  const resourceKey = Symbol('flagtrail.auditActor.scope');

  function plugin(
    fastify: FastifyInstance,
    _pluginOptions: unknown,
    registered: (err?: Error) => void,
  ): void {
    if (reenter) fastify.decorateRequest(resourceKey, null);
    fastify.addHook(hook, (request: FastifyRequest, _reply: unknown, done: (err?: Error) => void) => {
      resolveRequestScope('fastify', opts, request, {
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        requestIdHeader: request.headers['x-request-id'],
      }).then(
        (scope) =>
          runInRequestScope(scope, () => {
            if (!reenter) return done();
            // Captures the scope now, so preValidation can continue the request inside it.
            const resource = new AsyncResource('flagtrail.auditActor');
            (request as ScopedRequest)[resourceKey] = resource;
            resource.runInAsyncScope(done);
          }),
        (error: Error) => done(error),
      );
    });
    if (reenter) {
      fastify.addHook(
        'preValidation',
        (request: FastifyRequest, _reply: unknown, done: (err?: Error) => void) => {
          const resource = (request as ScopedRequest)[resourceKey];
          if (resource) resource.runInAsyncScope(done);
          else done();
        },
      );
    }
    registered();
  }

  // Fastify's "skip-override" (what fastify-plugin sets): the hooks apply to the instance the
  // plugin is registered on and its children, not to a private encapsulated context.
  const meta = plugin as unknown as Record<symbol, unknown>;
  meta[Symbol.for('skip-override')] = true;
  meta[Symbol.for('fastify.display-name')] = 'flagtrail-audit-actor';
  meta[Symbol.for('plugin-meta')] = { name: 'flagtrail-audit-actor', fastify: '5.x' };
  return plugin as FastifyPluginCallback;
}
