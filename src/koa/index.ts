import type { DefaultContext, DefaultState, Middleware, ParameterizedContext } from 'koa';
import {
  type AuditActorOptions,
  checkAuditActorOptions,
  resolveRequestScope,
  runInRequestScope,
} from '../core/request-context.js';

export type { AuditActorOptions, ResolvedActor } from '../core/request-context.js';

/**
 * Koa middleware (Koa 2 and 3) that runs the downstream middleware of each request as its user,
 * so every flag change made through an audited adapter is attributed to that user. A throw in
 * `resolve` rejects the middleware, which Koa turns into its error response.
 *
 * Mount it after body parsing, session and authentication.
 *
 * @example
 * ```ts
 * app.use(bodyParser());
 * app.use(authenticate);
 * app.use(auditActor({ resolve: (ctx) => (ctx.state.user ? { id: ctx.state.user.id } : undefined) }));
 * ```
 */
export function auditActor<StateT = DefaultState, ContextT = DefaultContext>(
  options: AuditActorOptions<ParameterizedContext<StateT, ContextT>>,
): Middleware<StateT, ContextT> {
  const opts = checkAuditActorOptions<ParameterizedContext<StateT, ContextT>>('koa', options);
  return async function flagtrailAuditActor(ctx, next) {
    const scope = await resolveRequestScope('koa', opts, ctx, {
      ip: ctx.ip,
      userAgent: ctx.headers['user-agent'],
      requestIdHeader: ctx.headers['x-request-id'],
    });
    // Downstream middleware is awaited through this promise, so it stays inside the scope.
    await runInRequestScope(scope, () => next());
  };
}
