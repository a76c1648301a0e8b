import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  type AuditActorOptions,
  checkAuditActorOptions,
  resolveRequestScope,
  runInRequestScope,
} from '../core/request-context.js';

export type { AuditActorOptions, ResolvedActor } from '../core/request-context.js';

/**
 * Express middleware (Express 4 and 5) that runs the rest of each request as its user, so every
 * flag change it makes through an audited adapter is attributed to that user.
 *
 * Mount it after body parsing, session and authentication: it reads the user from the request,
 * and middleware that parses the body after it may resume on a stream event outside the scope.
 *
 * @example
 * ```ts
 * app.use(express.json());
 * app.use(session(...), passport.session());
 * app.use(auditActor({ resolve: (req) => (req.user ? { id: String(req.user.id), label: req.user.email } : undefined) }));
 * ```
 */
export function auditActor<Req extends Request = Request>(options: AuditActorOptions<Req>): RequestHandler {
  const opts = checkAuditActorOptions<Req>('express', options);
  return function flagtrailAuditActor(req: Request, _res: Response, next: NextFunction): void {
    resolveRequestScope('express', opts, req as Req, {
      ip: req.ip,
      userAgent: req.headers['user-agent'],
      requestIdHeader: req.headers['x-request-id'],
    }).then(
      (scope) => runInRequestScope(scope, () => next()),
      (error: unknown) => next(error),
    );
  };
}
