export { AGE_BANDS, COUNTRIES, GENDERS, INCOME_BANDS } from './countries.js';
export { CONNECTION_FAILURES, errorCodeOf } from './error-codes.js';
export { LiveStatus } from './live-status.js';
export { finalAttempts, type RequestResult } from '../records/index.js';
export { addressBlocksOf, createRequestModel, pagePath, type PlannedRequest, type RequestModelOptions } from './request-model.js';
export { type NdjsonFile, openNdjsonFile, openResultsFile, type ResultsFile } from '../records/index.js';
export { LAG_EPISODE_MS, type LagEpisode, type LoadMode, type LoadOptions, type LoadOutcome, noteLag, runLoad } from './run-load.js';
export { type GroupSummary, type LatencySummary, type LoadSummary, MAX_GROUP_NAMES, renderSummary, SummaryAccumulator, summarize } from './summary.js';
export { type ClientOptions, runClient, verboseLine } from './run-client.js';
