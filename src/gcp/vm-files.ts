import { type GcpDeployment, resourceNames } from './deployment.js';

export type VmRole = 'serve' | 'audit';

export interface UnitOptions {
  /** Absolute path of the zonelab executable on the VM. */
  zonelabBin?: string;
}

const ZONELAB_BIN = '/usr/local/bin/zonelab';

/** The command line each role's service runs. Zone and instance come from the metadata server. */
export function serviceCommand(deployment: GcpDeployment, role: VmRole, zonelabBin = ZONELAB_BIN): string {
  const names = resourceNames(deployment);
  if (role === 'audit') return `${zonelabBin} audit --bus pubsub:projects/${deployment.project}/subscriptions/${names.subscription}`;
  const drain = deployment.spec.drainSeconds > 0 ? ` --drain-seconds ${deployment.spec.drainSeconds}` : '';
  return (
    `${zonelabBin} serve --bucket gs://${deployment.bucket} --port ${deployment.spec.port}` +
    ` --bus pubsub:projects/${deployment.project}/topics/${names.topic} --outbox /var/lib/zonelab/outbox.db${drain}`
  );
}

/**
 * The systemd unit of a role. The zone server is never restarted by systemd: the failover
 * experiment kills it on purpose and starts it again itself, and a unit that restarted on
 * failure would end the outage before the load balancer saw it. The audit is not a fault
 * target and is restarted.
 */
export function renderUnit(deployment: GcpDeployment, role: VmRole, options: UnitOptions = {}): string {
  const serve = role === 'serve';
  const drain = deployment.spec.drainSeconds > 0 ? deployment.spec.drainSeconds : 3;
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
    'LogsDirectory=zonelab',
    'WorkingDirectory=/var/lib/zonelab',
    `StandardOutput=append:/var/log/zonelab/${role}.log`,
    'StandardError=inherit',
    ...(serve
      ? [
          '# Never restarted by systemd: the failover experiment kills this service on purpose and',
          '# starts it again itself; an automatic restart would end the outage it measures.',
          'Restart=no',
          // SIGTERM starts the drain; the stop may take the whole drain plus open responses.
          `TimeoutStopSec=${Math.ceil(drain) + 10}`,
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

/** Ops Agent configuration: every line zonelab logs becomes a structured Cloud Logging entry. */
export const OPS_AGENT_CONFIG = `logging:
  receivers:
    zonelab:
      type: files
      include_paths: [/var/log/zonelab/*.log]
  processors:
    zonelab_json:
      type: parse_json
  service:
    pipelines:
      zonelab:
        receivers: [zonelab]
        processors: [zonelab_json]
`;

const LOGROTATE = `/var/log/zonelab/*.log {
  daily
  rotate 3
  compress
  missingok
  notifempty
  copytruncate
}
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
PACKAGE_URL='https://storage.googleapis.com/storage/v1/b/${deployment.bucket}/o/${objectPath}?alt=media'
UNIT='${unitName}'

metadata() {
  curl -fsS --retry 5 -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/$1"
}

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
  curl -fsSL --retry 5 -o "$dir/$name" "https://nodejs.org/dist/v$NODE_VERSION/$name"
  curl -fsSL --retry 5 -o "$dir/SHASUMS256.txt" "https://nodejs.org/dist/v$NODE_VERSION/SHASUMS256.txt"
  (cd "$dir" && grep " $name\\$" SHASUMS256.txt | sha256sum --check --strict -)
  tar -xJf "$dir/$name" -C /usr/local --strip-components=1 --no-same-owner
  rm -rf "$dir"
}

install_zonelab() {
  # The package "zonelab gcp up" uploaded, read with the VM's service account.
  local token dir
  token=$(metadata instance/service-accounts/default/token \\
    | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => process.stdout.write(JSON.parse(s).access_token))')
  dir=$(mktemp -d)
  curl -fsSL --retry 5 -H "Authorization: Bearer $token" -o "$dir/zonelab.tgz" "$PACKAGE_URL"
  if ! cmp -s "$dir/zonelab.tgz" /opt/zonelab/zonelab.tgz; then
    # better-sqlite3 (the outbox) installs a prebuilt binary from its install script; npm 11
    # runs install scripts of global installs only when allowed.
    npm_config_allow_scripts=better-sqlite3,protobufjs npm install --global --omit=dev --no-audit --no-fund "$dir/zonelab.tgz"
    install -d /opt/zonelab
    cp "$dir/zonelab.tgz" /opt/zonelab/zonelab.tgz
  fi
  rm -rf "$dir"
}

install_unit() {
  cat > "/etc/systemd/system/$UNIT" <<'ZONELAB_UNIT'
${renderUnit(deployment, role).trimEnd()}
ZONELAB_UNIT
  cat > /etc/logrotate.d/zonelab <<'ZONELAB_LOGROTATE'
${LOGROTATE.trimEnd()}
ZONELAB_LOGROTATE
  systemctl daemon-reload
  systemctl enable "$UNIT"
  systemctl start "$UNIT"
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
# it the logs stay in /var/log/zonelab.
install_ops_agent || echo "zonelab: the Ops Agent did not install; logs stay in /var/log/zonelab" >&2
echo "zonelab: $UNIT is running"
`;
}
