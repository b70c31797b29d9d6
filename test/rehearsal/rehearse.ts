#!/usr/bin/env node
// npm run rehearse: the two-zone cloud rehearsal for a person, on their own Linux machine
// as root (systemd-nspawn, debootstrap, nftables). Boots the VMs, runs the failover that
// `zonelab gcp up` prints against the passthrough balancer standing in for Google's,
// prints its measurements and keeps its report; then powers everything off.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROFILE_NAMES, type ProfileName } from '../../src/lb/index.js';
import { boxUnavailable } from '../helpers/debian-box.js';
import { Rehearsal, ZONES } from './rehearsal.js';

const USAGE = `usage: npm run rehearse -- [--profile fast|gcp-default|zero-error] [--out-dir reports]

Rehearses the Google Cloud deployment on this machine (root, systemd-nspawn, debootstrap
and nftables needed): three Debian 12 VMs in boxes boot the startup script zonelab gcp plan
writes, zonelab's passthrough balancer (nftables forwarding, probers on Google's schedule)
stands in for the network load balancer, and the failover command gcp up prints runs
against it, its ssh transport swapped for nsenter. The first run builds a Debian root file
system (about a minute); the report goes to <out-dir>/<time>/.`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { profile: { type: 'string', default: 'fast' }, 'out-dir': { type: 'string', default: 'reports' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!PROFILE_NAMES.includes(values.profile as ProfileName)) {
    console.error(`rehearse: --profile must be one of ${PROFILE_NAMES.join(', ')}`);
    return 2;
  }
  const unavailable = boxUnavailable();
  if (unavailable) {
    console.error(`rehearse: ${unavailable}`);
    return 1;
  }
  const work = await mkdtemp(join(tmpdir(), 'zonelab-rehearsal-'));
  const started = performance.now();
  const say = (line: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  let rehearsal: Rehearsal | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    say('interrupted: powering the VMs off…');
    void (rehearsal?.close() ?? Promise.resolve()).finally(() => rm(work, { recursive: true, force: true }).finally(() => process.exit(130)));
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  try {
    rehearsal = await Rehearsal.start({ workDir: work, profile: values.profile as ProfileName, onLine: say });
    say("starting the passthrough balancer in front of the serving VMs (the plan's health check, Google's probing)");
    const lb = await rehearsal.startLoadBalancer();
    say(`running the failover gcp up prints, against ${lb}:`);
    console.error(rehearsal.failoverCommand(lb, ZONES[0]).replace(/^/gm, '    '));
    const run = await rehearsal.runFailover(lb, ZONES[0], resolve(values['out-dir']!));
    process.stdout.write(run.stdout);
    say(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return 0;
  } catch (error) {
    console.error(`rehearse: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    if (!stopping) {
      await rehearsal?.close();
      await rm(work, { recursive: true, force: true });
    }
  }
}

process.exitCode = await main();
