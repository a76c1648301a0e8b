import { FlagTrailError } from '../core/errors.js';
import type { JsonObject, JsonValue } from '../core/types.js';

/** The columns flagtrail writes to `flipper_features`. */
export interface FlipperFeatureData {
  key: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The columns flagtrail writes to `flipper_gates`. */
export interface FlipperGateData {
  featureKey: string;
  key: string;
  value: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A JSON value as Prisma takes it for a `Json` column (top-level null is written as SQL NULL). */
export type PrismaJsonInput = string | number | boolean | JsonObject | JsonValue[];

/** The columns flagtrail writes to `flagtrail_audit_entries`. */
export interface FlagtrailAuditEntryData {
  id: string;
  version: number;
  feature: string;
  operation: string;
  gate: string | null;
  value?: PrismaJsonInput;
  before: PrismaJsonInput;
  after: PrismaJsonInput;
  changes: PrismaJsonInput;
  actorId: string;
  actorLabel: string | null;
  actorType: string | null;
  context: PrismaJsonInput;
  adapter: string;
  createdAt: Date;
}

/** The filters flagtrail puts on `flagtrail_audit_entries`. */
export interface FlagtrailAuditEntryWhere {
  id?: { lt: string };
  feature?: string;
  actorId?: string;
  operation?: { in: string[] };
  gate?: string;
  createdAt?: { gte?: Date; lt?: Date };
}

/**
 * The calls flagtrail makes on `prisma.flipperFeature`. Each argument is the exact shape
 * flagtrail passes, so TypeScript checks your generated client has the fields it needs; results
 * are checked at run time.
 */
export interface FlipperFeatureDelegate {
  findMany(args: { select: { key: true } }): PromiseLike<unknown>;
  findUnique(args: { where: { key: string }; select: { key: true } }): PromiseLike<unknown>;
  create(args: { data: FlipperFeatureData; select: { id: true } }): PromiseLike<unknown>;
  createMany(args: { data: FlipperFeatureData[] }): PromiseLike<unknown>;
  deleteMany(args: { where: { key: string } }): PromiseLike<unknown>;
}

/** The calls flagtrail makes on `prisma.flipperGate`. */
export interface FlipperGateDelegate {
  findMany(args: {
    where: { featureKey: string | { in: string[] } };
    select: { featureKey?: true; key: true; value: true };
  }): PromiseLike<unknown>;
  create(args: { data: FlipperGateData; select: { id: true } }): PromiseLike<unknown>;
  createMany(args: { data: FlipperGateData[] }): PromiseLike<unknown>;
  deleteMany(args: { where: { featureKey: string; key?: string; value?: string } }): PromiseLike<unknown>;
}

/** The calls flagtrail makes on `prisma.flagtrailAuditEntry`. */
export interface FlagtrailAuditEntryDelegate {
  findMany(args: {
    where: FlagtrailAuditEntryWhere;
    orderBy: { id: 'desc' };
    take: number;
  }): PromiseLike<unknown>;
  create(args: { data: FlagtrailAuditEntryData; select: { id: true } }): PromiseLike<unknown>;
  createMany(args: { data: FlagtrailAuditEntryData[] }): PromiseLike<unknown>;
}

/** What a Prisma client offers inside an interactive transaction (the `tx` of `$transaction`). */
export interface PrismaRawQueries {
  $queryRawUnsafe(query: string, ...values: unknown[]): PromiseLike<unknown>;
}

/** Options Prisma takes for an interactive transaction. */
export interface PrismaTransactionOptions {
  maxWait?: number;
  timeout?: number;
}

/** A client that can open interactive transactions. */
export interface PrismaTransactions<Tx> {
  $transaction<R>(fn: (tx: Tx) => Promise<R>, options?: PrismaTransactionOptions): Promise<R>;
}

/** A Prisma client, or transaction client, with the Flipper models of `prisma/flagtrail.prisma`. */
export interface PrismaFlagModels extends PrismaRawQueries {
  flipperFeature: FlipperFeatureDelegate;
  flipperGate: FlipperGateDelegate;
}

/** A Prisma client, or transaction client, with the audit model of `prisma/flagtrail.prisma`. */
export interface PrismaAuditModels {
  flagtrailAuditEntry: FlagtrailAuditEntryDelegate;
}

/**
 * The Prisma client `PrismaFlagAdapter` takes: any generated `PrismaClient` whose schema includes
 * the models of `prisma/flagtrail.prisma`. Typed by shape, so flagtrail never imports
 * `@prisma/client` and works wherever your client is generated.
 */
export interface PrismaFlagClient extends PrismaFlagModels, PrismaTransactions<PrismaFlagModels> {}

/** The Prisma client `PrismaAuditStore` takes: any generated client with the audit model. */
export interface PrismaAuditClient extends PrismaAuditModels {}

/** A client with all three flagtrail models: what `withAuditTrail(new PrismaFlagAdapter(prisma))` needs. */
export interface PrismaFlagTrailClient
  extends PrismaFlagModels,
    PrismaAuditModels,
    PrismaTransactions<PrismaFlagModels & PrismaAuditModels> {}

/** The SQL dialects flagtrail's Prisma backend speaks. */
export type PrismaProvider = 'postgresql' | 'cockroachdb' | 'mysql' | 'sqlite';

const PROVIDERS: readonly string[] = ['postgresql', 'cockroachdb', 'mysql', 'sqlite'];

const MODEL_FILE = 'prisma/flagtrail.prisma (npx flagtrail init prisma)';

/** Model delegate names and the Prisma model that provides each. */
export const MODELS = {
  flipperFeature: 'FlipperFeature',
  flipperGate: 'FlipperGate',
  flagtrailAuditEntry: 'FlagtrailAuditEntry',
} as const;

/** Throws MISSING_MODEL unless `client` has a delegate for each named model. */
export function requireModels(client: unknown, names: readonly (keyof typeof MODELS)[], who: string): void {
  if (client === null || typeof client !== 'object') {
    throw new FlagTrailError('INVALID_OPTION', `${who} takes a PrismaClient instance, got ${typeof client}`);
  }
  for (const name of names) {
    const delegate = (client as Record<string, unknown>)[name];
    if (
      delegate === null ||
      typeof delegate !== 'object' ||
      typeof (delegate as { findMany?: unknown }).findMany !== 'function'
    ) {
      throw new FlagTrailError(
        'MISSING_MODEL',
        `${who}: the Prisma client has no model ${MODELS[name]} (prisma.${name}); add the models of ${MODEL_FILE} to your schema, run \`prisma generate\`, and create the tables (prisma migrate, or the SQL in prisma/sql/)`,
      );
    }
  }
}

/**
 * The provider of a generated client: the option when given, else what the client says about
 * itself. The dialect matters for the few raw queries and for how duplicate inserts are skipped.
 */
export function resolveProvider(client: object, option: unknown, who: string): PrismaProvider {
  const candidate = option ?? (client as { _activeProvider?: unknown })._activeProvider;
  if (candidate === undefined) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `${who}: cannot tell the database provider of this Prisma client; pass { provider: 'postgresql' | 'mysql' | 'sqlite' }`,
    );
  }
  if (typeof candidate !== 'string' || !PROVIDERS.includes(candidate)) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `${who}: unsupported Prisma provider ${JSON.stringify(String(candidate))}; flagtrail supports ${PROVIDERS.join(', ')}`,
    );
  }
  return candidate as PrismaProvider;
}

/**
 * `createMany` args that skip rows violating a unique index. The structural delegate types
 * declare `createMany({ data })` only, because SQLite clients have no `skipDuplicates`; callers
 * pass this object (not a literal) where the provider supports it.
 */
export function skippingDuplicates<D>(data: D[]): { data: D[] } {
  const args = { data, skipDuplicates: true };
  return args;
}

/** True when `createMany({ skipDuplicates: true })` exists for the provider (not on SQLite). */
export function supportsSkipDuplicates(provider: PrismaProvider): boolean {
  return provider !== 'sqlite';
}

/** The n-th (1-based) bind parameter in the provider's raw SQL. */
export function placeholder(provider: PrismaProvider, n: number): string {
  return provider === 'postgresql' || provider === 'cockroachdb' ? `$${n}` : '?';
}
