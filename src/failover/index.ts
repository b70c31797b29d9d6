export { type ExperimentOptions, type ExperimentResult, type ExperimentSetup, type FaultKind, runExperiment, type TargetOptions } from './experiment.js';
export { runShellCommand } from './fault-command.js';
export { computeFailoverMetrics, type FailoverMetrics, failed, type PhaseRatio } from './metrics.js';
export type { RunEvent } from './records.js';
export { renderReportMarkdown } from './report-md.js';
export { rerenderReport } from './rerender.js';
export { renderTimelineSvg, timelineMarks, timelineRows, timelineSpec } from './timeline.js';
export { writeReport } from './write-report.js';
export { renderMatrixMarkdown } from './matrix.js';
