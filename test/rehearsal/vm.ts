import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type GcpDeployment, renderStartupScript, type VmRole } from '../../src/gcp/index.js';
import { type Box, type BoxDisk, bootBox, createBoxDisk } from '../helpers/debian-box.js';
import { type MetadataStandIn, startMetadataStandIn } from '../helpers/metadata-stand-in.js';

/**
 * A Compute Engine VM rehearsed in a box: its own disk (kept across reboots), a stand-in
 * metadata server that the box resolves metadata.google.internal to (its zone, name,
 * attributes, startup script and token), and a stand-in for the guest agent's
 * google-startup-scripts.service, which runs the startup-script attribute as root at every
 * boot with its output in the journal, as the real one does.
 */
export interface VmOptions {
  name: string;
  zone: string;
  role: VmRole;
  /** The deployment whose startup script the VM gets (its spec's port is the port it serves on). */
  deployment: GcpDeployment;
  /** The address (on this machine's loopback) its metadata server listens on, port 80. */
  metadataAddress: string;
  /** Metadata attributes besides the startup script. */
  attributes: Record<string, string>;
  /** Where the VM's disk lives. */
  folder: string;
  /** A folder on this machine kept as the VM's npm download cache (/var/cache/zonelab-npm). */
  npmCache: string;
  /** How long a boot, startup script included, may take; default 7 minutes. */
  bootTimeoutMs?: number;
}

export interface StartupScriptRun {
  ok: boolean;
  /** The script's output in this boot, from the journal. */
  log: string;
}

export interface Vm {
  readonly options: VmOptions;
  readonly box: Box;
  /** The startup script's run in the current boot. */
  startupScript(): Promise<StartupScriptRun>;
  /** Powers the VM off and on again; resolves when the boot (startup script included) has finished. */
  reboot(): Promise<void>;
  /** Powers off and deletes the VM's disk and metadata server. */
  close(): Promise<void>;
}

/** Where the box sees this machine's bundle of trusted certificates. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const HOST_CA_IN_BOX = '/etc/ssl/certs/host-ca-certificates.crt';

/** Stand-in for google_metadata_script_runner, the GCE guest agent's script runner. */
const RUNNER = `#!/bin/bash
# Stand-in for the GCE guest agent's google_metadata_script_runner (not Google's): runs the
# VM's startup-script metadata attribute as root, its output in this unit's journal.
set -euo pipefail
script=$(mktemp)
curl -fsS --retry 5 -H 'Metadata-Flavor: Google' -o "$script" \\
  http://metadata.google.internal/computeMetadata/v1/instance/attributes/startup-script
exec bash "$script"
`;

/** The guest agent's unit, as the google-guest-agent package installs it, running the stand-in. */
const RUNNER_UNIT = `[Unit]
Description=Google Compute Engine Startup Scripts (zonelab rehearsal stand-in)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
# Not in the real unit: this machine's trusted certificates (a network that intercepts TLS
# to the npm registry has its own authority there), for npm in the box.
Environment=NODE_EXTRA_CA_CERTS=${HOST_CA_IN_BOX}
ExecStart=/usr/local/sbin/google_metadata_script_runner_stand_in startup
KillMode=process
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
`;

export async function createVm(options: VmOptions): Promise<Vm> {
  const metadata: MetadataStandIn = await startMetadataStandIn(
    {
      zone: `projects/123456789012/zones/${options.zone}`,
      name: options.name,
      project: options.deployment.project,
      attributes: { ...options.attributes, 'startup-script': renderStartupScript(options.deployment, options.role) },
    },
    { host: options.metadataAddress, port: 80 },
  );
  let disk: BoxDisk | null = null;
  let box: Box | null = null;
  const boot = async () =>
    bootBox({
      name: options.name,
      directory: disk!.root,
      binds: [
        { host: options.npmCache, box: '/var/cache/zonelab-npm' },
        ...(existsSync(HOST_CA_BUNDLE) ? [{ host: HOST_CA_BUNDLE, box: HOST_CA_IN_BOX, readOnly: true }] : []),
      ],
      bootTimeoutMs: options.bootTimeoutMs ?? 7 * 60_000,
      diagnose: async (exec) =>
        `startup script so far:\n${(await exec(['journalctl', '-b', '-u', 'google-startup-scripts.service', '-o', 'cat', '--no-pager', '-n', '40'])).stdout}`,
    });
  try {
    disk = await createBoxDisk(options.folder);
    // Name resolution inside the box: metadata.google.internal is this VM's metadata server.
    await writeFile(join(disk.root, 'etc/hosts'), `127.0.0.1 localhost\n127.0.1.1 ${options.name}\n${options.metadataAddress} metadata.google.internal metadata\n`);
    await writeFile(join(disk.root, 'etc/hostname'), `${options.name}\n`);
    await writeFile(join(disk.root, 'usr/local/sbin/google_metadata_script_runner_stand_in'), RUNNER, { mode: 0o755 });
    await writeFile(join(disk.root, 'etc/systemd/system/google-startup-scripts.service'), RUNNER_UNIT);
    await mkdir(join(disk.root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    await symlink('/etc/systemd/system/google-startup-scripts.service', join(disk.root, 'etc/systemd/system/multi-user.target.wants/google-startup-scripts.service'));
    await mkdir(options.npmCache, { recursive: true });
    box = await boot();
  } catch (error) {
    await box?.close();
    await disk?.remove();
    await metadata.close();
    throw error;
  }

  const vm: Vm = {
    options,
    get box() {
      return box!;
    },
    async startupScript() {
      const state = (await box!.exec(['systemctl', 'show', 'google-startup-scripts.service', '-p', 'Result,ExecMainStatus'])).stdout;
      const log = (await box!.exec(['journalctl', '-b', '-u', 'google-startup-scripts.service', '-o', 'cat', '--no-pager'])).stdout;
      return { ok: /Result=success/.test(state) && /ExecMainStatus=0/.test(state), log };
    },
    async reboot() {
      await box!.close();
      box = await boot();
    },
    async close() {
      await box?.close();
      await disk?.remove();
      await metadata.close();
    },
  };
  return vm;
}
