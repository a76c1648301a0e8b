export { DEFAULT_REFRESH_INTERVAL_MS, FlagTrailProvider, type FlagTrailProviderOptions } from './provider.js';
