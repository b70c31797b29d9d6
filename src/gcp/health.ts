/** One backend VM as the load balancer sees it. */
export interface BackendHealth {
  instance: string;
  /** HEALTHY, UNHEALTHY, or UNKNOWN while the load balancer has no verdict yet. */
  state: string;
}

function basename(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/**
 * Pure: the backends in `gcloud compute backend-services get-health --format=json` or
 * `gcloud compute target-pools get-health --format=json` output. Both nest `healthStatus`
 * entries with `instance` and `healthState` at different depths, so every such entry is
 * collected wherever it is.
 */
export function parseBackendHealth(json: string): BackendHealth[] {
  const found = new Map<string, string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (Array.isArray(record.healthStatus)) {
      for (const status of record.healthStatus as Record<string, unknown>[]) {
        if (typeof status?.instance === 'string') {
          found.set(basename(status.instance), typeof status.healthState === 'string' ? status.healthState : 'UNKNOWN');
        }
      }
    }
    for (const [key, child] of Object.entries(record)) if (key !== 'healthStatus') visit(child);
  };
  visit(JSON.parse(json.trim() === '' ? '[]' : json));
  return [...found].map(([instance, state]) => ({ instance, state })).sort((a, b) => a.instance.localeCompare(b.instance));
}
