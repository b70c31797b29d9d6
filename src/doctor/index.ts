export { addressChecks, atLeast, type Check, chromiumCheck, gcloudChecks, haproxyCheck, lbChecks, MIN_NODE, networkFaultCheck, nodeCheck, renderChecks, sqliteCheck } from './checks.js';
