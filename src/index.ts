export {
  type ActorScope,
  currentActor,
  currentContext,
  withActor,
} from './core/actor-context.js';
export {
  AuditedAdapter,
  type AuditTrailOptions,
  DEFAULT_SYSTEM_ACTOR,
  type FlagChange,
  type FlushOptions,
  isAuditedAdapter,
  withAuditTrail,
} from './core/audited-adapter.js';
export { describeChange } from './core/describe.js';
export { diffStates, keyedState } from './core/diff.js';
export { describeInput, FlagTrailError, type FlagTrailErrorCode, isFlagTrailError } from './core/errors.js';
export {
  assertValidExpression,
  type EvaluateOptions,
  type Evaluation,
  type EvaluationInput,
  evaluateFlag,
  type GroupPredicate,
} from './core/evaluate/index.js';
export { Flags, type FlagsEvaluationContext, type FlagsOptions } from './core/flags.js';
export { defaultGates } from './core/gates.js';
export type { CloseResult, RetryOptions } from './core/outbox/outbox.js';
export { readState } from './core/state.js';
export {
  type Actor,
  type AuditContext,
  type AuditEntry,
  type AuditStore,
  type FlagAdapter,
  type FlagState,
  GATE_KEYS,
  type GateKey,
  type GateValue,
  type GateValues,
  type HistoryQuery,
  type JsonObject,
  type JsonPatchOperation,
  type JsonPrimitive,
  type JsonValue,
  type NormalizedHistoryQuery,
  OPERATIONS,
  type Operation,
  type TransactionRunner,
  type TransactionScope,
} from './core/types.js';
export {
  DEFAULT_HISTORY_LIMIT,
  MAX_HISTORY_LIMIT,
  MAX_KEY_LENGTH,
  validateHistoryQuery,
} from './core/validate.js';
