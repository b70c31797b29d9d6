/**
 * Every error code zonelab throws, with what it means. Callers branch on the code, so a code
 * is a promise: the compiler refuses one that is not listed here.
 */
export const ERROR_CODES = {
  // What a person typed
  E_BAD_ARGUMENT: 'a flag or argument is wrong or does not apply',
  E_BAD_SPEC: 'a load-balancer spec value is out of its limits',
  E_BAD_FAULT: 'not a fault zonelab knows',
  E_BAD_EXPECT: 'an --expect rule that cannot be read',
  E_BAD_BUS: 'a --bus value that cannot work',
  E_BAD_CONSUMER: 'an audit consumer name with characters it cannot have',
  E_BAD_BUCKET: 'not a valid Cloud Storage bucket name',
  E_BAD_GCP: 'a gcp flag that cannot work',
  E_NO_TARGET: 'no zone or instance of that name',
  E_HOST: 'a host name that does not resolve',
  // What this machine lacks or holds
  E_NO_HAPROXY: 'HAProxy is not installed',
  E_NO_PROGRAM: 'a program the chosen load balancer needs is not installed',
  E_NO_NFTABLES: 'nft is not installed',
  E_NEED_ROOT: 'the action needs root',
  E_NO_CHROMIUM: 'no Chromium to print with',
  E_NO_GCLOUD: 'gcloud is not installed',
  E_GCLOUD_LOGIN: 'gcloud is not logged in',
  E_GCLOUD_PROJECT: 'gcloud has no project, or not that one',
  E_PORT_BUSY: 'an address a command needs is in use',
  E_LISTEN: 'a server cannot listen on its address',
  E_WEB_LISTEN: 'the live page cannot listen on its address',
  E_CONTROL_SOCKET: 'a server control socket cannot be opened',
  E_WORKER: 'a worker of serve --workers could not start',
  // Files and folders
  E_NOT_EMPTY: 'a folder that would be overwritten is not empty',
  E_NOT_A_FOLDER: 'a path that must be a folder is a file',
  E_OUT: 'a results file cannot be written',
  E_NO_RUN: 'no run (or no report) in that folder',
  E_BAD_RECORD: 'a record file holds a line that is not a record',
  // Storage and buses
  E_BUCKET_NOT_FOUND: 'the bucket does not exist',
  E_STORAGE_UNAVAILABLE: 'the bucket cannot be reached',
  E_GCS_UNAVAILABLE: 'the Cloud Storage client library is missing',
  E_GCS_CREDENTIALS: 'no credentials for Cloud Storage',
  E_UPLOAD: 'an object cannot be written',
  E_NO_SQLITE: 'no SQLite engine on this Node.js',
  E_BUS_NOT_FOUND: 'no event folder where the audit looks',
  E_BUS_UNAVAILABLE: 'an event database cannot be opened',
  E_BUS_WRITE: 'an event cannot be committed',
  E_BUS_CORRUPT: 'an event in the bus is malformed',
  E_CONSUMER_BUSY: 'another audit holds the same consumer position',
  E_OUTBOX: 'the outbox cannot be opened',
  E_OUTBOX_FULL: 'the outbox is full (the bus is unreachable)',
  E_PUBSUB_UNAVAILABLE: 'the Pub/Sub client library is missing',
  E_PUBSUB_NOT_FOUND: 'a Pub/Sub topic or subscription does not exist',
  E_PUBSUB_CREDENTIALS: 'no credentials for Pub/Sub',
  E_PERMISSION_DENIED: 'a cloud call was refused for lack of a permission',
  E_NO_IDENTITY: 'on Google Cloud, the metadata server did not name the zone or the VM',
  // The lab and its load balancer
  E_NO_LAB: 'no lab in that folder',
  E_LAB_RUNNING: 'a lab already runs in that folder',
  E_LAB_START: 'a lab process did not start or answer in time',
  E_LAB_STARTING: 'the lab is still starting',
  E_BAD_LAB_STATE: 'the lab state file is not one',
  E_HAPROXY_CONFIG: 'HAProxy rejects the generated config',
  E_HAPROXY_START: 'HAProxy exited at start-up',
  E_HAPROXY_API: "HAProxy's runtime API does not answer",
  E_ALREADY_FAULTED: 'the zone already carries a fault',
  E_NOT_RUNNING: 'the server is not running',
  E_NETWORK_FAULT: 'nftables refused a rule',
  // Runs and the cloud
  E_FAULT_COMMAND: 'a fault command cannot be run',
  E_TARGET_SILENT: 'the target answered nothing during the warm-up',
  E_WARMUP_UNFIT: 'the warm-up showed nothing a failover can be measured against',
  E_GCLOUD: 'a gcloud command failed',
  E_NOT_HEALTHY: 'the deployment did not become healthy',
  E_INTERRUPTED: 'stopped by a signal',
  // The live page
  E_WEB_BODY: 'a control request body is too large',
  E_WEB_ASSETS: 'the live page cannot serve its assets',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The one error class zonelab throws for conditions a caller may want to branch on.
 * `code` is stable (callers compare it; see `ERROR_CODES`); `message` is one line meant
 * for a person. The CLI prints `message` alone for these, never a stack trace.
 */
export class ZonelabError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZonelabError';
    this.code = code;
  }
}

export function isZonelabError(error: unknown, code?: ErrorCode): error is ZonelabError {
  return error instanceof ZonelabError && (code === undefined || error.code === code);
}

/** A short description of any thrown value, for log lines and one-line errors. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
