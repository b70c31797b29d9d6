export { type BackendStatus, type InjectOptions, type Lab, openLab, type StartLabOptions, startLab, type StopSignal } from './lab.js';
export { type LabOptions, type LabPlan, planLab } from './plan.js';
export { type LabState, type ServerRecord, stateFile } from './state.js';
export { renderBackends } from './render.js';
export { checkNetworkFaultsPossible, nftTableOf, serversWithNetworkFault } from './network-faults.js';
export { haproxyVersion } from '../lb/index.js';
export { checkInWords, type LabChange, type LabObservation, LabObserver, processInWords, splitLine, stateInWords, type WatchOptions, watchLab } from './watch.js';
export { addressFree, addressHolder, busyMessage, checkLabAddresses, labDownCommand } from './addresses.js';
export { type FoundLab, findLabs, labOfProcess } from './find-labs.js';
