import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZonelabError } from '../errors.js';
import type { CommandResult, CommandRunner } from './command-runner.js';
import { resourceNames } from './deployment.js';
import { type BackendHealth, parseBackendHealth } from './health.js';
import { addressCommand, commandsOf, GRANT_RETRY_DELAYS_MS, type GcpPlan, healthCommand, instancesCommand, type PlanCommand, type PlanStep, preflightCommands, WORK } from './plan.js';
import { shellCommand } from './plan-script.js';

export interface ApplyOptions {
  runner: CommandRunner;
  /** Progress lines for a person. */
  onLine: (line: string) => void;
  signal?: AbortSignal;
}

export interface UpOptions extends ApplyOptions {
  /** Folder the plan's files are written to (the WORK of the commands). */
  workDir: string;
  /** Give up waiting for healthy backends after this long. */
  healthWaitMs: number;
  healthPollMs?: number;
  /** The waits between tries of a step that may be retried (default GRANT_RETRY_DELAYS_MS). */
  retryDelaysMs?: readonly number[];
}

const NOT_FOUND = /not found|NOT_FOUND|was not found|does not exist|404/i;

/**
 * What a failed command said, in one line: gcloud's first error line (`ERROR: (gcloud.…)
 * …`, the line that names the problem), then its last line when that adds something (the
 * detail, such as the quota that was exceeded); other programs' last lines.
 */
function failureMessage(result: Pick<CommandResult, 'code' | 'stdout' | 'stderr'>): string {
  const lines = (result.stderr.trim() || result.stdout.trim() || `exit ${result.code}`)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const first = lines.find((line) => line.startsWith('ERROR:'));
  if (first === undefined) return lines.slice(-3).join(' | ');
  const last = lines.at(-1)!;
  return last === first ? first : `${first} … ${last}`;
}

/** A command as one line; with `workDir`, the folder of the plan's files as it really is. */
function oneLine(command: PlanCommand, workDir?: string): string {
  const args = workDir === undefined ? command.args : command.args.map((argument) => argument.replaceAll(WORK, workDir));
  return shellCommand({ ...command, args }).replaceAll(' \\\n    ', ' ');
}

/** Whether a probe found its resource; throws when the probe itself failed (auth, quota, network). */
async function exists(step: PlanStep, runner: CommandRunner): Promise<boolean> {
  const probe = step.probe!;
  const result = await runner.run(probe);
  if (result.code !== 0) {
    if (NOT_FOUND.test(result.stderr)) return false;
    throw new ZonelabError('E_GCLOUD', `cannot tell whether ${step.title} exists: ${oneLine(probe)}: ${failureMessage(result)}`);
  }
  if (probe.member === undefined) return true;
  const member = probe.member;
  return result.stdout.split(/[\s;,]+/).some((token) => token === member || token.endsWith(`/${member}`));
}

function aborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new ZonelabError('E_INTERRUPTED', 'interrupted; run the same command again to continue');
}

/**
 * Before step 1: gcloud is installed, logged in, and can see the project. Each failure is
 * one line that says what to do. Returns the account gcloud acts as.
 */
export async function checkGcloud(plan: GcpPlan, runner: CommandRunner): Promise<string> {
  const commands = preflightCommands(plan.deployment);
  const version = await runner.run(commands.version);
  if (version.code !== 0) {
    throw new ZonelabError(
      'E_NO_GCLOUD',
      version.code === 127
        ? 'gcloud is not installed (or not on PATH): install the Google Cloud CLI, https://cloud.google.com/sdk/docs/install'
        : `gcloud does not run: ${failureMessage(version)}`,
    );
  }
  const accounts = await runner.run(commands.account);
  const account = accounts.stdout.trim().split('\n')[0]?.trim() ?? '';
  if (accounts.code !== 0 || account === '') {
    throw new ZonelabError('E_GCLOUD_LOGIN', `gcloud is not logged in${accounts.code !== 0 ? ` (${failureMessage(accounts)})` : ''}: run "gcloud auth login"`);
  }
  const project = await runner.run(commands.project);
  if (project.code !== 0) {
    throw new ZonelabError(
      'E_GCLOUD_PROJECT',
      `gcloud, logged in as ${account}, cannot see project ${plan.deployment.project}: ${failureMessage(project)}. Check the project ID (gcloud projects list) or log in as an account that has a role on it.`,
    );
  }
  return account;
}

/**
 * Runs the plan in order. A step whose resource exists is skipped, so a failed `up` is
 * simply run again. Stops at the first failing command, naming it and its message.
 */
export async function runPlan(plan: GcpPlan, options: UpOptions): Promise<void> {
  const { runner, onLine } = options;
  for (const file of plan.files) await writeFile(join(options.workDir, file.name), file.content, { mode: 0o644 });
  const total = plan.steps.length;
  for (const [index, step] of plan.steps.entries()) {
    aborted(options.signal);
    const label = `[${index + 1}/${total}] ${step.title}`;
    if (step.probe && (await exists(step, runner))) {
      onLine(`${label}: exists, kept`);
      continue;
    }
    const started = performance.now();
    let result: CommandResult = { code: 0, stdout: '', stderr: '' };
    for (const command of commandsOf(step)) {
      result = await runner.run(command);
      const delays = step.retries ? (options.retryDelaysMs ?? GRANT_RETRY_DELAYS_MS) : [];
      for (const [retry, delayMs] of delays.entries()) {
        if (result.code === 0) break;
        onLine(`${label}: failed (${failureMessage(result)}); trying again in ${delayMs / 1000} s (try ${retry + 2} of ${delays.length + 1})`);
        await sleep(delayMs, undefined, { signal: options.signal }).catch(() => {});
        aborted(options.signal);
        result = await runner.run(command);
      }
      if (result.code !== 0) {
        throw new ZonelabError(
          'E_GCLOUD',
          `step ${index + 1}/${total} (${step.title}) failed: ${oneLine(command, options.workDir)}: ${failureMessage(result)}. Fix the cause and run "zonelab gcp up" again: what exists is kept.`,
        );
      }
    }
    const last = (result.stdout.trim() || result.stderr.trim()).split('\n').at(-1)?.trim() ?? '';
    const note = step.run.program === 'zonelab' && last !== '' ? ` (${last})` : '';
    onLine(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s${note}`);
  }
}

export async function readHealth(plan: GcpPlan, runner: CommandRunner): Promise<BackendHealth[]> {
  const command = healthCommand(plan.deployment);
  const result = await runner.run(command);
  if (result.code !== 0) throw new ZonelabError('E_GCLOUD', `${oneLine(command)} failed: ${failureMessage(result)}`);
  try {
    return parseBackendHealth(result.stdout);
  } catch (error) {
    throw new ZonelabError('E_GCLOUD', `${oneLine(command)} did not print JSON: ${(error as Error).message}`, { cause: error });
  }
}

function describeHealth(backends: BackendHealth[]): string {
  return backends.map((backend) => `${backend.instance} ${backend.state}`).join(', ') || 'no backend reported yet';
}

/** Polls the load balancer until every serving VM is HEALTHY; throws with a debugging hint at the deadline. */
export async function waitUntilHealthy(plan: GcpPlan, options: UpOptions): Promise<BackendHealth[]> {
  const names = resourceNames(plan.deployment);
  const expected = plan.deployment.zones.map(names.serverVm);
  const deadline = performance.now() + options.healthWaitMs;
  let said = '';
  for (;;) {
    aborted(options.signal);
    const backends = await readHealth(plan, options.runner);
    const healthy = backends.filter((backend) => backend.state === 'HEALTHY' && expected.includes(backend.instance));
    const line = `health: ${healthy.length}/${expected.length} healthy (${describeHealth(backends)})`;
    if (line !== said) options.onLine(line);
    said = line;
    if (healthy.length === expected.length) return backends;
    if (performance.now() >= deadline) {
      const sick = expected.find((vm) => !healthy.some((backend) => backend.instance === vm)) ?? expected[0]!;
      const zone = plan.deployment.zones[expected.indexOf(sick)];
      throw new ZonelabError(
        'E_NOT_HEALTHY',
        `not every backend was healthy after ${Math.round(options.healthWaitMs / 1000)} s (${describeHealth(backends)}); ` +
          `see what the startup script did: gcloud compute instances get-serial-port-output ${sick} --zone=${zone} --project=${plan.deployment.project}`,
      );
    }
    await sleep(options.healthPollMs ?? 5000, undefined, { signal: options.signal }).catch(() => {});
  }
}

export async function readAddress(plan: GcpPlan, runner: CommandRunner): Promise<string | null> {
  const command = addressCommand(plan.deployment);
  const result = await runner.run(command);
  if (result.code !== 0) {
    if (NOT_FOUND.test(result.stderr)) return null;
    throw new ZonelabError('E_GCLOUD', `${oneLine(command)} failed: ${failureMessage(result)}`);
  }
  return result.stdout.trim() || null;
}

export interface VmStatus {
  name: string;
  zone: string;
  status: string;
}

export async function readInstances(plan: GcpPlan, runner: CommandRunner): Promise<VmStatus[]> {
  const command = instancesCommand(plan.deployment);
  const result = await runner.run(command);
  if (result.code !== 0) throw new ZonelabError('E_GCLOUD', `${oneLine(command)} failed: ${failureMessage(result)}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [name = '', zone = '', status = ''] = line.trim().split(/\s+/);
      return { name, zone, status };
    });
}

export interface DownOptions extends ApplyOptions {
  deleteBucket: boolean;
}

/**
 * Deletes, in the reverse order of creation, every resource of the plan that exists. The
 * bucket is kept unless `deleteBucket`. Stops at the first failing delete (run it again).
 */
export async function tearDown(plan: GcpPlan, options: DownOptions): Promise<{ deleted: string[]; absent: string[]; kept: string[] }> {
  const report = { deleted: [] as string[], absent: [] as string[], kept: [] as string[] };
  for (const step of [...plan.steps].reverse()) {
    if (!step.remove || !step.probe) continue;
    aborted(options.signal);
    if (step.keptByDefault && !options.deleteBucket) {
      report.kept.push(step.title);
      options.onLine(`kept ${step.title} (--delete-bucket deletes it and everything in it)`);
      continue;
    }
    if (!(await exists(step, options.runner))) {
      report.absent.push(step.title);
      options.onLine(`${step.title}: not there`);
      continue;
    }
    const result = await options.runner.run(step.remove);
    if (result.code !== 0) {
      throw new ZonelabError('E_GCLOUD', `deleting ${step.title} failed: ${oneLine(step.remove)}: ${failureMessage(result)}. Run "zonelab gcp down" again.`);
    }
    report.deleted.push(step.title);
    options.onLine(`deleted ${step.title}`);
  }
  return report;
}
