export type { EvaluationInput, GroupPredicate } from '../core/evaluate/index.js';
export { DEFAULT_REFRESH_INTERVAL_MS, FlagTrailProvider, type FlagTrailProviderOptions } from './provider.js';
