#!/bin/bash
# zonelab on Google Cloud: project zonelab-demo-1, region us-east1, zones us-east1-b, us-east1-c; 30 steps.
# creates: 3 e2-micro VMs (zonelab-us-east1-b, zonelab-us-east1-c, zonelab-audit); service account zonelab-vms; bucket gs://zonelab-demo-1-zonelab;
#   Pub/Sub topic zonelab-forbidden and subscription zonelab-audit; 4 firewall rules; static IP zonelab-ip;
#   health check zonelab-hc, 2 instance groups, backend service zonelab-bs; forwarding rule zonelab-fr.
# costs: about $0.074 per hour while it exists (us-east1 list prices), $1.78 per day
#   measuring adds, per hour at 100 requests/s: about $0.26 of internet egress (2.2 GB of pages) and at most $0.29 of Cloud Storage reads (fewer once the servers have the pages cached)
# delete it: zonelab gcp down --project zonelab-demo-1 (the bucket stays unless --delete-bucket)
#
# load balancer: backend service (external passthrough network load balancer)
# profile fast: health check every 1 s, timeout 1 s, healthy after 2, unhealthy after 2
# expected: a dead zone is noticed within 3 s, a restarted one within 3 s
# ssh (the fault commands): through IAP TCP forwarding only; your account needs roles/iap.tunnelResourceAccessor
# established connections on a VM marked unhealthy persist (the default; target pools likewise): a failover with --keepalive measures the client's own timeout there, not the load balancer (--connection-persistence never, backend service only)
#
# Run it from a zonelab checkout after "npm ci && npm run build" (or set ZONELAB_HOME to one).
# "zonelab gcp up" runs the same steps, skips resources that exist, and waits until every
# backend is healthy; "zonelab gcp down" deletes them again.
set -euo pipefail

zonelab() { node "${ZONELAB_HOME:-.}/dist/src/cli/main.js" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# IAM can take a minute or more to know a new service account: a grant is tried again after 5, 10, 15, 20, 20, 20 s.
retry() { local wait; for wait in 5 10 15 20 20 20; do "$@" && return 0; echo "failed; trying again in $wait s" >&2; sleep "$wait"; done; "$@"; }

cat > "$work/startup-serve.sh" <<'ZONELAB_FILE'
#!/bin/bash
# zonelab startup script, serve VM. Runs as root at every boot.
# Its output: sudo journalctl -u google-startup-scripts.service
set -euo pipefail

NODE_VERSION='24.21.0'
UNIT='zonelab-serve.service'
ACCESS_WAIT_SEC=600
PACKAGE_CHANGED=0

metadata() {
  curl -fsS --retry 5 -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/$1"
}

# A metadata attribute of this VM, or the default given when the VM has none by that name.
# zonelab gcp up sets none: the defaults are the deployment. A VM can name mirrors instead.
attribute() {
  metadata "instance/attributes/$1" 2>/dev/null || printf '%s' "$2"
}

NODE_DIST=$(attribute zonelab-node-dist 'https://nodejs.org/dist')
PACKAGE_URL=$(attribute zonelab-package-url 'https://storage.googleapis.com/storage/v1/b/zonelab-demo-1-zonelab/o/_zonelab%2Fzonelab.tgz?alt=media')
OPS_AGENT=$(attribute zonelab-ops-agent install)

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
  (cd "$dir" && grep " $name\$" SHASUMS256.txt | sha256sum --check --strict -)
  tar -xJf "$dir/$name" -C /usr/local --strip-components=1 --no-same-owner
  rm -rf "$dir"
}

access_token() {
  metadata instance/service-accounts/default/token \
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
  # zonelab-env attribute; none by default.
  install -d /etc/zonelab
  { attribute zonelab-env ''; echo; } > /etc/zonelab/env
  cat > "/etc/systemd/system/$UNIT" <<'ZONELAB_UNIT'
[Unit]
Description=zonelab zone server (app 1)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=/usr/local/bin/zonelab serve --bucket gs://zonelab-demo-1-zonelab --port 8080 --bus pubsub:projects/zonelab-demo-1/topics/zonelab-forbidden --outbox /var/lib/zonelab/outbox.db --drain-seconds 6 --access-wait 600
DynamicUser=yes
StateDirectory=zonelab
WorkingDirectory=/var/lib/zonelab
# Extra environment the startup script writes from the VM's zonelab-env attribute (none by default).
EnvironmentFile=-/etc/zonelab/env
# JSON lines to the journal, where the Ops Agent reads them (systemd_journald receiver).
StandardOutput=journal
StandardError=journal
SyslogIdentifier=zonelab-serve
LogRateLimitIntervalSec=0
# Never restarted by systemd: the failover experiment kills this service on purpose and
# starts it again itself; an automatic restart would end the outage it measures.
Restart=no
TimeoutStopSec=16
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
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
logging:
  receivers:
    zonelab_journal:
      type: systemd_journald
  processors:
    zonelab_units_only:
      type: exclude_logs
      match_any:
        - 'NOT jsonPayload._SYSTEMD_UNIT =~ "^zonelab-"'
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
  echo "zonelab: zonelab-ops-agent is $OPS_AGENT: no Ops Agent; the logs stay in the journal: journalctl -u $UNIT"
fi
echo "zonelab: $UNIT is running"
ZONELAB_FILE

cat > "$work/startup-audit.sh" <<'ZONELAB_FILE'
#!/bin/bash
# zonelab startup script, audit VM. Runs as root at every boot.
# Its output: sudo journalctl -u google-startup-scripts.service
set -euo pipefail

NODE_VERSION='24.21.0'
UNIT='zonelab-audit.service'
ACCESS_WAIT_SEC=600
PACKAGE_CHANGED=0

metadata() {
  curl -fsS --retry 5 -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/$1"
}

# A metadata attribute of this VM, or the default given when the VM has none by that name.
# zonelab gcp up sets none: the defaults are the deployment. A VM can name mirrors instead.
attribute() {
  metadata "instance/attributes/$1" 2>/dev/null || printf '%s' "$2"
}

NODE_DIST=$(attribute zonelab-node-dist 'https://nodejs.org/dist')
PACKAGE_URL=$(attribute zonelab-package-url 'https://storage.googleapis.com/storage/v1/b/zonelab-demo-1-zonelab/o/_zonelab%2Fzonelab.tgz?alt=media')
OPS_AGENT=$(attribute zonelab-ops-agent install)

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
  (cd "$dir" && grep " $name\$" SHASUMS256.txt | sha256sum --check --strict -)
  tar -xJf "$dir/$name" -C /usr/local --strip-components=1 --no-same-owner
  rm -rf "$dir"
}

access_token() {
  metadata instance/service-accounts/default/token \
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
  # zonelab-env attribute; none by default.
  install -d /etc/zonelab
  { attribute zonelab-env ''; echo; } > /etc/zonelab/env
  cat > "/etc/systemd/system/$UNIT" <<'ZONELAB_UNIT'
[Unit]
Description=zonelab audit of forbidden requests (app 2)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=/usr/local/bin/zonelab audit --bus pubsub:projects/zonelab-demo-1/subscriptions/zonelab-audit --access-wait 600
DynamicUser=yes
StateDirectory=zonelab
WorkingDirectory=/var/lib/zonelab
# Extra environment the startup script writes from the VM's zonelab-env attribute (none by default).
EnvironmentFile=-/etc/zonelab/env
# JSON lines to the journal, where the Ops Agent reads them (systemd_journald receiver).
StandardOutput=journal
StandardError=journal
SyslogIdentifier=zonelab-audit
LogRateLimitIntervalSec=0
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
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
logging:
  receivers:
    zonelab_journal:
      type: systemd_journald
  processors:
    zonelab_units_only:
      type: exclude_logs
      match_any:
        - 'NOT jsonPayload._SYSTEMD_UNIT =~ "^zonelab-"'
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
  echo "zonelab: zonelab-ops-agent is $OPS_AGENT: no Ops Agent; the logs stay in the journal: journalctl -u $UNIT"
fi
echo "zonelab: $UNIT is running"
ZONELAB_FILE

# 1. enable the Compute Engine, IAM, Pub/Sub, Cloud Storage, Cloud Logging, Cloud Monitoring and IAP APIs: a new project has none of them on (Cloud Monitoring takes the Ops Agent's metrics; IAP carries ssh)
gcloud services enable compute.googleapis.com iam.googleapis.com pubsub.googleapis.com storage.googleapis.com logging.googleapis.com monitoring.googleapis.com iap.googleapis.com \
    --project=zonelab-demo-1

# 2. service account zonelab-vms: the VMs act as this account, which holds only the roles below
gcloud iam service-accounts create zonelab-vms --project=zonelab-demo-1 '--display-name=zonelab VMs'

# 3. grant roles/logging.logWriter, roles/monitoring.metricWriter on the project to zonelab-vms: write logs and metrics (the Ops Agent); granting a role twice changes nothing
for role in roles/logging.logWriter roles/monitoring.metricWriter; do
  retry gcloud projects add-iam-policy-binding zonelab-demo-1 \
      --condition=None \
      --member=serviceAccount:zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com \
      --role="$role" \
      --project=zonelab-demo-1 \
      --quiet \
      --format=none
done

# 4. bucket gs://zonelab-demo-1-zonelab: the pages the servers serve, and the zonelab package the VMs install
gcloud storage buckets create gs://zonelab-demo-1-zonelab \
    --project=zonelab-demo-1 \
    --location=us-east1 \
    --uniform-bucket-level-access

# 5. grant roles/storage.objectViewer on gs://zonelab-demo-1-zonelab to zonelab-vms: read the pages and the package, on this bucket only; granting a role twice changes nothing
retry gcloud storage buckets add-iam-policy-binding gs://zonelab-demo-1-zonelab \
    --member=serviceAccount:zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com \
    --role=roles/storage.objectViewer \
    --project=zonelab-demo-1 \
    --quiet \
    --format=none

# 6. generate 10000 pages: the same pages as the local lab (deterministic for the seed)
zonelab bucket generate --out="$work"/pages --count=10000 --if-missing

# 7. upload the pages to gs://zonelab-demo-1-zonelab (only when it is empty): a bucket that already holds objects is left as it is
zonelab bucket upload --from="$work"/pages --to=gs://zonelab-demo-1-zonelab --if-empty

# 8. pack zonelab (zonelab-0.1.0.tgz): the VMs install exactly this build
(cd "${ZONELAB_HOME:-.}" && npm pack --silent --pack-destination="$work")

# 9. upload the package to gs://zonelab-demo-1-zonelab/_zonelab/zonelab.tgz: each VM's startup script fetches it with the VM's service account
gcloud storage cp "$work"/zonelab-0.1.0.tgz gs://zonelab-demo-1-zonelab/_zonelab/zonelab.tgz \
    --project=zonelab-demo-1

# 10. Pub/Sub topic zonelab-forbidden: the servers publish one event per forbidden request here
gcloud pubsub topics create zonelab-forbidden --project=zonelab-demo-1

# 11. grant roles/pubsub.publisher, roles/pubsub.viewer on topic zonelab-forbidden to zonelab-vms: publish, and check the topic exists, on this topic only; granting a role twice changes nothing
for role in roles/pubsub.publisher roles/pubsub.viewer; do
  retry gcloud pubsub topics add-iam-policy-binding zonelab-forbidden \
      --member=serviceAccount:zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com \
      --role="$role" \
      --project=zonelab-demo-1 \
      --quiet \
      --format=none
done

# 12. Pub/Sub subscription zonelab-audit: the audit VM reads the events from it and prints each once
gcloud pubsub subscriptions create zonelab-audit \
    --topic=zonelab-forbidden \
    --ack-deadline=60 \
    --project=zonelab-demo-1

# 13. grant roles/pubsub.subscriber, roles/pubsub.viewer on subscription zonelab-audit to zonelab-vms: pull, and check the subscription exists, on this subscription only; granting a role twice changes nothing
for role in roles/pubsub.subscriber roles/pubsub.viewer; do
  retry gcloud pubsub subscriptions add-iam-policy-binding zonelab-audit \
      --member=serviceAccount:zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com \
      --role="$role" \
      --project=zonelab-demo-1 \
      --quiet \
      --format=none
done

# 14. firewall rule zonelab-allow-app: a network load balancer passes packets through with the client address kept, so the app port is open to clients
gcloud compute firewall-rules create zonelab-allow-app \
    --project=zonelab-demo-1 \
    --network=default \
    --direction=INGRESS \
    --action=ALLOW \
    --rules=tcp:8080 \
    --source-ranges=0.0.0.0/0 \
    --target-tags=zonelab-server

# 15. firewall rule zonelab-allow-health-checks: Google's health-check probers, from the ranges documented for this load balancer kind
gcloud compute firewall-rules create zonelab-allow-health-checks \
    --project=zonelab-demo-1 \
    --network=default \
    --direction=INGRESS \
    --action=ALLOW \
    --rules=tcp:8080 \
    --source-ranges=35.191.0.0/16,209.85.152.0/22,209.85.204.0/22 \
    --target-tags=zonelab-server

# 16. firewall rule zonelab-allow-ssh: gcloud compute ssh, which the fault and restart commands use, through IAP TCP forwarding only
gcloud compute firewall-rules create zonelab-allow-ssh \
    --project=zonelab-demo-1 \
    --network=default \
    --direction=INGRESS \
    --action=ALLOW \
    --rules=tcp:22 \
    --source-ranges=35.235.240.0/20 \
    --target-tags=zonelab-server,zonelab-audit \
    --priority=1000

# 17. firewall rule zonelab-deny-ssh: the default network's default-allow-ssh opens port 22 to the internet (priority 65534); this rule, between it and the allow above, closes it on these VMs
gcloud compute firewall-rules create zonelab-deny-ssh \
    --project=zonelab-demo-1 \
    --network=default \
    --direction=INGRESS \
    --action=DENY \
    --rules=tcp:22 \
    --source-ranges=0.0.0.0/0 \
    --target-tags=zonelab-server,zonelab-audit \
    --priority=1100

# 18. static regional IP zonelab-ip: the load balancer keeps its address when it is re-created
gcloud compute addresses create zonelab-ip --region=us-east1 --project=zonelab-demo-1

# 19. VM zonelab-us-east1-b in us-east1-b: runs zonelab serve in us-east1-b
gcloud compute instances create zonelab-us-east1-b \
    --project=zonelab-demo-1 \
    --zone=us-east1-b \
    --machine-type=e2-micro \
    --network=default \
    --image-family=debian-12 \
    --image-project=debian-cloud \
    --boot-disk-type=pd-balanced \
    --tags=zonelab-server \
    --service-account=zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com \
    --scopes=cloud-platform \
    --metadata-from-file=startup-script="$work"/startup-serve.sh \
    --labels=zonelab=zonelab

# 20. VM zonelab-us-east1-c in us-east1-c: runs zonelab serve in us-east1-c
gcloud compute instances create zonelab-us-east1-c \
    --project=zonelab-demo-1 \
    --zone=us-east1-c \
    --machine-type=e2-micro \
    --network=default \
    --image-family=debian-12 \
    --image-project=debian-cloud \
    --boot-disk-type=pd-balanced \
    --tags=zonelab-server \
    --service-account=zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com \
    --scopes=cloud-platform \
    --metadata-from-file=startup-script="$work"/startup-serve.sh \
    --labels=zonelab=zonelab

# 21. VM zonelab-audit in us-east1-b: runs zonelab audit: prints every forbidden request once
gcloud compute instances create zonelab-audit \
    --project=zonelab-demo-1 \
    --zone=us-east1-b \
    --machine-type=e2-micro \
    --network=default \
    --image-family=debian-12 \
    --image-project=debian-cloud \
    --boot-disk-type=pd-balanced \
    --tags=zonelab-audit \
    --service-account=zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com \
    --scopes=cloud-platform \
    --metadata-from-file=startup-script="$work"/startup-audit.sh \
    --labels=zonelab=zonelab

# 22. regional health check zonelab-hc: GET /healthz every 1 s; 2 failures mark a VM unhealthy, 2 successes healthy
gcloud compute health-checks create http zonelab-hc \
    --region=us-east1 \
    --project=zonelab-demo-1 \
    --port=8080 \
    --request-path=/healthz \
    --check-interval=1s \
    --timeout=1s \
    --healthy-threshold=2 \
    --unhealthy-threshold=2

# 23. instance group zonelab-ig-us-east1-b: a backend service balances over instance groups, one per zone
gcloud compute instance-groups unmanaged create zonelab-ig-us-east1-b \
    --zone=us-east1-b \
    --project=zonelab-demo-1

# 24. put zonelab-us-east1-b in zonelab-ig-us-east1-b: the group holds the zone’s server
gcloud compute instance-groups unmanaged add-instances zonelab-ig-us-east1-b \
    --zone=us-east1-b \
    --instances=zonelab-us-east1-b \
    --project=zonelab-demo-1

# 25. instance group zonelab-ig-us-east1-c: a backend service balances over instance groups, one per zone
gcloud compute instance-groups unmanaged create zonelab-ig-us-east1-c \
    --zone=us-east1-c \
    --project=zonelab-demo-1

# 26. put zonelab-us-east1-c in zonelab-ig-us-east1-c: the group holds the zone’s server
gcloud compute instance-groups unmanaged add-instances zonelab-ig-us-east1-c \
    --zone=us-east1-c \
    --instances=zonelab-us-east1-c \
    --project=zonelab-demo-1

# 27. backend service zonelab-bs: the network load balancer: external, TCP, pass-through, with the health check
gcloud compute backend-services create zonelab-bs \
    --region=us-east1 \
    --project=zonelab-demo-1 \
    --load-balancing-scheme=EXTERNAL \
    --protocol=TCP \
    --health-checks=zonelab-hc \
    --health-checks-region=us-east1

# 28. backend zonelab-ig-us-east1-b of zonelab-bs: traffic reaches us-east1-b through its group
gcloud compute backend-services add-backend zonelab-bs \
    --region=us-east1 \
    --project=zonelab-demo-1 \
    --instance-group=zonelab-ig-us-east1-b \
    --instance-group-zone=us-east1-b

# 29. backend zonelab-ig-us-east1-c of zonelab-bs: traffic reaches us-east1-c through its group
gcloud compute backend-services add-backend zonelab-bs \
    --region=us-east1 \
    --project=zonelab-demo-1 \
    --instance-group=zonelab-ig-us-east1-c \
    --instance-group-zone=us-east1-c

# 30. forwarding rule zonelab-fr: the load balancer's front: zonelab-ip, TCP port 8080
gcloud compute forwarding-rules create zonelab-fr \
    --region=us-east1 \
    --project=zonelab-demo-1 \
    --load-balancing-scheme=EXTERNAL \
    --ip-protocol=TCP \
    --ports=8080 \
    --address=zonelab-ip \
    --backend-service=zonelab-bs

# Then wait until every backend is HEALTHY (the VMs take a few minutes to install Node.js and zonelab):
#   gcloud compute backend-services get-health zonelab-bs --region=us-east1 --project=zonelab-demo-1 --format=json
# The load balancer's address: gcloud compute addresses describe zonelab-ip --region=us-east1 --project=zonelab-demo-1 --format='value(address)'
