export { type Fault, type FaultClass, type FaultKind, describeFault, FAULT_FORMS, faultClassOf, formatFault, parseFault } from './fault.js';
export { decodeNdjson, encodeNdjson, type NdjsonFile, openNdjsonFile, openResultsFile, readNdjsonFile, type ResultsFile } from './ndjson.js';
export { failed, finalAttempts, type RequestResult } from './request-result.js';
export type { RunEvent } from './run-event.js';
export type { RunSetup } from './run-setup.js';
export { percentile } from './percentile.js';
