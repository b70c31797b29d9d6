export { CHART_DATA, CHART_SIGNALS, compiledLiveChart, liveChartSpec } from './chart-spec.js';
export { createFailoverFeed, markOf } from './failover-feed.js';
export { controlAllowed, hostAllowed, isLoopback, newToken, parseWebAddress } from './guard.js';
export { backendState, createLabFeed, feedFromLab, labControls, liveBackends, PAGE_FAULTS, processBase } from './lab-feed.js';
export {
  FAILED_SERIES,
  type LiveBackend,
  type LiveBin,
  type LiveControls,
  type LiveDone,
  LiveFeed,
  type LiveFeedOptions,
  type LiveMark,
  type LiveMessage,
  type LivePhase,
  type LiveSnapshot,
  type LiveStatus,
} from './live-feed.js';
export { exposureWarning, type LiveControlActions, type LiveServer, type LiveServerOptions, startLiveServer } from './live-server.js';
export { LIVE_CSS, LIVE_SCRIPT, renderLivePage } from './page.js';
