import { drainSecondsFor, GCP_APPLY_DELAY_SEC } from '../lb/index.js';
import { type GcpDeployment, resourceNames } from './deployment.js';

export type VmRole = 'serve' | 'audit';

export interface UnitOptions {
  /** Absolute path of the zonelab executable on the VM. */
  zonelabBin?: string;
}

const ZONELAB_BIN = '/usr/local/bin/zonelab';

/**
 * How long a VM waits out "permission denied" from Cloud Storage and Pub/Sub, in the startup
 * script and in the servers: role grants "typically propagate in 2 minutes, but could
 * potentially take 7 minutes or longer" (https://cloud.google.com/iam/docs/access-change-propagation),
 * and `gcp up` creates the VMs seconds after granting their roles.
 */
export const ACCESS_WAIT_SEC = 600;

/** The command line each role's service runs. Zone and instance come from the metadata server. */
export function serviceCommand(deployment: GcpDeployment, role: VmRole, zonelabBin = ZONELAB_BIN): string {
  const names = resourceNames(deployment);
  if (role === 'audit') return `${zonelabBin} audit --bus pubsub:projects/${deployment.project}/subscriptions/${names.subscription} --access-wait ${ACCESS_WAIT_SEC}`;
  // One process (serve's default), not --workers: an e2-micro's two vCPUs timeshare one
  // physical core ("E2 shared-core", cloud.google.com/compute/docs/general-purpose-machines),
  // a second worker costs its own memory and cache out of 1 GB, and even on two real cores
  // (npm run bench:server) a second worker served 1.07 times what one did.
  return (
    `${zonelabBin} serve --bucket gs://${deployment.bucket} --port ${deployment.spec.port}` +
    ` --bus pubsub:projects/${deployment.project}/topics/${names.topic} --outbox /var/lib/zonelab/outbox.db` +
    ` --drain-seconds ${drainSecondsFor(deployment.spec, deployment.applyDelaySec ?? GCP_APPLY_DELAY_SEC)} --access-wait ${ACCESS_WAIT_SEC}`
  );
}

/**
 * The systemd unit of a role. The zone server is never restarted by systemd: the failover
 * experiment kills it on purpose and starts it again itself, and a unit that restarted on
 * failure would end the outage before the load balancer saw it. The audit is not a fault
 * target and is restarted.
 *
 * Output goes to the journal. A log file of the unit's own (`LogsDirectory=` with
 * `StandardOutput=append:`) cannot be combined with `DynamicUser=yes`: systemd 252, which
 * Debian 12 runs, opens standard output before it creates the logs directory, and the unit
 * fails at once with status 209/STDOUT (https://github.com/systemd/systemd/issues/27591).
 */
export function renderUnit(deployment: GcpDeployment, role: VmRole, options: UnitOptions = {}): string {
  const serve = role === 'serve';
  return [
    '[Unit]',
    `Description=zonelab ${serve ? 'zone server (app 1)' : 'audit of forbidden requests (app 2)'}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    `ExecStart=${serviceCommand(deployment, role, options.zonelabBin)}`,
    'DynamicUser=yes',
    'StateDirectory=zonelab',
    'WorkingDirectory=/var/lib/zonelab',
    '# Extra environment the startup script writes from the VM\'s zonelab-env attribute (none by default).',
    'EnvironmentFile=-/etc/zonelab/env',
    '# JSON lines to the journal, where the Ops Agent reads them (systemd_journald receiver).',
    'StandardOutput=journal',
    'StandardError=journal',
    `SyslogIdentifier=zonelab-${role}`,
    // journald drops a service's lines beyond 10,000 per 30 s by default; a load of refused
    // requests logs more than that, and every refusal is worth its line.
    'LogRateLimitIntervalSec=0',
    ...(serve
      ? [
          '# Never restarted by systemd: the failover experiment kills this service on purpose and',
          '# starts it again itself; an automatic restart would end the outage it measures.',
          'Restart=no',
          // SIGTERM starts the drain; the stop may take the whole drain plus open responses.
          `TimeoutStopSec=${Math.ceil(drainSecondsFor(deployment.spec, deployment.applyDelaySec ?? GCP_APPLY_DELAY_SEC)) + 10}`,
        ]
      : ['Restart=on-failure', 'RestartSec=2']),
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * Metadata attributes the startup script reads. `zonelab gcp up` sets none of them: their
 * defaults are the deployment. They let a VM use mirrors or skip the agent:
 * - `zonelab-node-dist`: where Node.js and its headers are downloaded from (default
 *   https://nodejs.org/dist, the tarballs checked against that place's SHASUMS256.txt);
 * - `zonelab-package-url`: the zonelab package (default the bucket's `_zonelab/zonelab.tgz`
 *   through the Cloud Storage JSON API, read with the VM's service-account token);
 * - `zonelab-env`: NAME=value lines for the service's environment (default none);
 * - `zonelab-ops-agent`: `install` (default) or `skip`.
 */
export const VM_ATTRIBUTES = {
  nodeDist: 'zonelab-node-dist',
  packageUrl: 'zonelab-package-url',
  serviceEnv: 'zonelab-env',
  opsAgent: 'zonelab-ops-agent',
} as const;

/** The units whose journal entries the Ops Agent ships: a regular expression on `_SYSTEMD_UNIT`. */
export const OPS_AGENT_UNIT_PATTERN = '^zonelab-';

/**
 * Ops Agent configuration, merged with the agent's built-in one. Its `systemd_journald`
 * receiver reads the whole journal, each entry's fields under `jsonPayload` (the line in
 * `MESSAGE`, the unit in `_SYSTEMD_UNIT`). Entries of other units are dropped; each zonelab
 * line is parsed as JSON; its `time` becomes the entry's timestamp and its `severity` (in
 * Cloud Logging's names, as the logger writes it) the entry's severity. The agent treats
 * only `logging.googleapis.com/severity` as special: a plain `severity` field would stay in
 * jsonPayload and every entry would show DEFAULT. `logging.googleapis.com/labels` (zone,
 * instance) needs nothing: the agent makes it the entry's labels.
 * https://cloud.google.com/logging/docs/agent/ops-agent/configuration#logging-receivers
 * https://cloud.google.com/logging/docs/agent/ops-agent/configuration#logging-processors
 */
export const OPS_AGENT_CONFIG = `logging:
  receivers:
    zonelab_journal:
      type: systemd_journald
  processors:
    zonelab_units_only:
      type: exclude_logs
      match_any:
        - 'NOT jsonPayload._SYSTEMD_UNIT =~ "${OPS_AGENT_UNIT_PATTERN}"'
    zonelab_json:
      type: parse_json
      field: MESSAGE
      time_key: time
      time_format: "%Y-%m-%dT%H:%M:%S.%L%z"
    zonelab_severity:
      type: modify_fields
      fields:
        severity:
          move_from: jsonPayload.severity
  service:
    pipelines:
      zonelab:
        receivers: [zonelab_journal]
        processors: [zonelab_units_only, zonelab_json, zonelab_severity]
`;

/**
 * The VM's startup script (Compute Engine runs it as root at every boot): installs Node.js
 * from nodejs.org (checksum verified), the zonelab package `up` uploaded to the bucket,
 * the role's systemd unit, and the Ops Agent that ships the logs to Cloud Logging.
 */
export function renderStartupScript(deployment: GcpDeployment, role: VmRole): string {
  const names = resourceNames(deployment);
  const unitName = role === 'serve' ? names.unit : names.auditUnit;
  const objectPath = encodeURIComponent(names.packageObject);
  return `#!/bin/bash
# zonelab startup script, ${role} VM. Runs as root at every boot.
# Its output: sudo journalctl -u google-startup-scripts.service
set -euo pipefail

NODE_VERSION='${deployment.nodeVersion}'
UNIT='${unitName}'
ACCESS_WAIT_SEC=${ACCESS_WAIT_SEC}
PACKAGE_CHANGED=0

metadata() {
  curl -fsS --retry 5 -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/$1"
}

# A metadata attribute of this VM, or the default given when the VM has none by that name.
# zonelab gcp up sets none: the defaults are the deployment. A VM can name mirrors instead.
attribute() {
  metadata "instance/attributes/$1" 2>/dev/null || printf '%s' "$2"
}

NODE_DIST=$(attribute ${VM_ATTRIBUTES.nodeDist} 'https://nodejs.org/dist')
PACKAGE_URL=$(attribute ${VM_ATTRIBUTES.packageUrl} 'https://storage.googleapis.com/storage/v1/b/${deployment.bucket}/o/${objectPath}?alt=media')
OPS_AGENT=$(attribute ${VM_ATTRIBUTES.opsAgent} install)

install_node() {
  if command -v node >/dev/null && [ "$(node --version)" = "v$NODE_VERSION" ]; then return 0; fi
  local arch name dir
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "zonelab: no Node.js build for $(uname -m)" >&2; return 1 ;;
  esac
  name="node-v$NODE_VERSION-linux-$arch.tar.xz"
  dir=$(mktemp -d)
  curl -fsSL --retry 5 -o "$dir/$name" "$NODE_DIST/v$NODE_VERSION/$name"
  curl -fsSL --retry 5 -o "$dir/SHASUMS256.txt" "$NODE_DIST/v$NODE_VERSION/SHASUMS256.txt"
  (cd "$dir" && grep " $name\\$" SHASUMS256.txt | sha256sum --check --strict -)
  tar -xJf "$dir/$name" -C /usr/local --strip-components=1 --no-same-owner
  rm -rf "$dir"
}

access_token() {
  metadata instance/service-accounts/default/token \\
    | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => process.stdout.write(JSON.parse(s).access_token))'
}

# Downloads $1 to $2 with the VM's service account. Until the account's role on the bucket
# has arrived (grants "typically propagate in 2 minutes, but could potentially take 7
# minutes or longer": https://cloud.google.com/iam/docs/access-change-propagation) Cloud
# Storage answers 401 or 403, which curl --retry does not retry: those are waited out for
# ACCESS_WAIT_SEC, with a line per try. Any other failure stops the script.
download_authorized() {
  local url=$1 out=$2 wait=3 status token
  local deadline=$((SECONDS + ACCESS_WAIT_SEC))
  while :; do
    # On its own line, so a metadata server that gives no token stops the script here
    # instead of sending an empty one and waiting out the 401 it earns.
    token=$(access_token)
    status=$(curl -sSL --retry 5 -H "Authorization: Bearer $token" -o "$out" -w '%{http_code}' "$url") || {
      echo "zonelab: cannot download $url (curl exit $?)" >&2
      return 1
    }
    case "$status" in
      2??) return 0 ;;
      401 | 403)
        if [ "$SECONDS" -ge "$deadline" ]; then
          echo "zonelab: $url still answers $status after $ACCESS_WAIT_SEC s: grant the VM's service account roles/storage.objectViewer on the bucket" >&2
          return 1
        fi
        echo "zonelab: $url answered $status: the VM's role on the bucket may not have arrived yet; trying again in $wait s"
        sleep "$wait"
        wait=$((wait * 2 > 30 ? 30 : wait * 2))
        ;;
      *)
        echo "zonelab: $url answered HTTP $status: $(head -c 300 "$out")" >&2
        return 1
        ;;
    esac
  done
}

install_zonelab() {
  # The package "zonelab gcp up" uploaded, read with the VM's service account.
  local dir
  dir=$(mktemp -d)
  download_authorized "$PACKAGE_URL" "$dir/zonelab.tgz"
  if ! cmp -s "$dir/zonelab.tgz" /opt/zonelab/zonelab.tgz; then
    # npm ci installs exactly the tree in the package's npm-shrinkwrap.json, the one zonelab
    # was built and tested with (npm install --global of a package file would resolve the
    # version ranges afresh). --omit=optional leaves out better-sqlite3, the SQLite engine
    # of Node.js releases without node:sqlite: Node.js 24 has its own, so nothing is
    # compiled and nothing native is fetched. The new install is made beside the old one
    # and takes its place only once it is complete.
    rm -rf /opt/zonelab/app.new
    install -d /opt/zonelab/app.new
    tar -xzf "$dir/zonelab.tgz" -C /opt/zonelab/app.new --strip-components=1 --no-same-owner
    (cd /opt/zonelab/app.new && npm ci --omit=dev --omit=optional --no-audit --no-fund --cache /var/cache/zonelab-npm)
    rm -rf /opt/zonelab/app
    mv /opt/zonelab/app.new /opt/zonelab/app
    cp "$dir/zonelab.tgz" /opt/zonelab/zonelab.tgz
    PACKAGE_CHANGED=1
  fi
  rm -rf "$dir"
  cat > /usr/local/bin/zonelab <<'ZONELAB_BIN'
#!/bin/sh
exec /usr/local/bin/node /opt/zonelab/app/dist/src/cli/main.js "$@"
ZONELAB_BIN
  chmod 755 /usr/local/bin/zonelab
}

install_unit() {
  # Extra environment for the service (NAME=value lines, such as a proxy), from the VM's
  # ${VM_ATTRIBUTES.serviceEnv} attribute; none by default.
  install -d /etc/zonelab
  { attribute ${VM_ATTRIBUTES.serviceEnv} ''; echo; } > /etc/zonelab/env
  cat > "/etc/systemd/system/$UNIT" <<'ZONELAB_UNIT'
${renderUnit(deployment, role).trimEnd()}
ZONELAB_UNIT
  systemctl daemon-reload
  systemctl enable "$UNIT"
  # At a reboot the unit has started before this script: a new package needs a restart.
  if [ "$PACKAGE_CHANGED" = 1 ]; then systemctl restart "$UNIT"; else systemctl start "$UNIT"; fi
}

install_ops_agent() {
  if ! dpkg -s google-cloud-ops-agent >/dev/null 2>&1; then
    curl -fsSL --retry 5 -o /tmp/add-google-cloud-ops-agent-repo.sh https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh
    bash /tmp/add-google-cloud-ops-agent-repo.sh --also-install
  fi
  cat > /etc/google-cloud-ops-agent/config.yaml <<'ZONELAB_OPS_AGENT'
${OPS_AGENT_CONFIG.trimEnd()}
ZONELAB_OPS_AGENT
  systemctl restart google-cloud-ops-agent
}

install_node
install_zonelab
install_unit
# Last, so the server is up (and the health checks pass) while the agent installs. Without
# it the logs stay in the VM's journal.
if [ "$OPS_AGENT" = install ]; then
  install_ops_agent || echo "zonelab: the Ops Agent did not install; the logs stay in the journal: journalctl -u $UNIT" >&2
else
  echo "zonelab: ${VM_ATTRIBUTES.opsAgent} is $OPS_AGENT: no Ops Agent; the logs stay in the journal: journalctl -u $UNIT"
fi
echo "zonelab: $UNIT is running"
`;
}
