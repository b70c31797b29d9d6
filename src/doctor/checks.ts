import { spawnSync } from 'node:child_process';
import { findChromium } from '../failover/index.js';
import { type CommandRunner, preflightCommands } from '../gcp/index.js';
import { addressFree, addressHolder, haproxyVersion, labDownCommand } from '../lab/index.js';
import { type LbDriverKind, lbDriver, lbKinds } from '../lb/index.js';
import { availableEngines } from '../sqlite/index.js';

/** One prerequisite: whether it holds, what was found, and the exact fix when it does not. */
export interface Check {
  name: string;
  ok: boolean;
  /** What was found ("HAProxy 2.6.12", "in use by nginx (pid 812)"). */
  found: string;
  /** The command or step that fixes it; null when it holds. */
  fix: string | null;
  /** What needs it. */
  neededFor: string;
  /** Needed by the default job (`npm start`: the local failover experiment). */
  required: boolean;
}

export const MIN_NODE = '20.18.1';

/** Whether version `a` (`v20.20.0` or `20.20.0`) is at least `b`. Pure. */
export function atLeast(a: string, b: string): boolean {
  const parse = (v: string) => v.replace(/^v/, '').split('.').map(Number);
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return true;
}

export function nodeCheck(version = process.version): Check {
  const ok = atLeast(version, MIN_NODE);
  return {
    name: 'Node.js',
    ok,
    found: version,
    fix: ok ? null : `install Node.js ${MIN_NODE} or later (24 LTS is what the VMs run): https://nodejs.org/en/download`,
    neededFor: 'everything',
    required: true,
  };
}

/** The SQLite engine the event files and the outbox use; `engine` is what loads here, or null. */
export function sqliteCheck(engine: string | null = availableEngines()[0] ?? null): Check {
  return {
    name: 'SQLite',
    ok: engine !== null,
    found: engine === null ? `no engine: Node.js ${process.version} has no node:sqlite and better-sqlite3 does not load` : engine,
    fix: engine === null ? 'npm install better-sqlite3@12 (it compiles where no prebuilt binary can be fetched: apt-get install -y python3 make g++), or use Node.js 22.13 or later' : null,
    neededFor: 'the event bus and the audit',
    required: true,
  };
}

/**
 * Every load balancer's program, the one the job runs with (`--lb`) required: HAProxy
 * installed, nftables and root for the passthrough balancer, and so on.
 */
export function lbChecks(required: LbDriverKind = 'haproxy'): Check[] {
  return lbKinds().map((kind) => {
    const driver = lbDriver(kind);
    const program = driver.program();
    let problem: string | null = null;
    try {
      driver.check();
    } catch (error) {
      problem = (error as Error).message;
    }
    return {
      name: `--lb ${kind}`,
      ok: problem === null,
      found: problem === null ? `${program?.name ?? kind} ${program?.version ?? ''}`.trim() : program?.version ? `${program.name} ${program.version}, but: ${problem}` : 'not installed',
      fix: problem === null ? null : (program?.install ?? problem),
      neededFor: `the lab and failover with --lb ${kind}`,
      required: kind === required,
    };
  });
}

export function haproxyCheck(version = haproxyVersion()): Check {
  return {
    name: 'HAProxy',
    ok: version !== null,
    found: version === null ? 'not installed' : `HAProxy ${version}`,
    fix: version === null ? 'apt-get install -y haproxy' : null,
    neededFor: 'the lab and failover',
    required: true,
  };
}

/** The default job's addresses: the load balancer's and the two servers'. */
export async function addressChecks(listen = { host: '127.0.0.1', port: 8080 }, serverPort = 8080): Promise<Check[]> {
  const wanted = [
    { host: listen.host, port: listen.port, role: 'the load balancer', flag: `--listen ${listen.host}:<port>` },
    { host: '127.0.1.1', port: serverPort, role: 'the first zone\'s server', flag: '--port <n>' },
    { host: '127.0.1.2', port: serverPort, role: 'the second zone\'s server', flag: '--port <n>' },
  ];
  const checks: Check[] = [];
  for (const { host, port, role, flag } of wanted) {
    const free = await addressFree(host, port);
    const holder = free ? null : addressHolder(host, port);
    checks.push({
      name: `${host}:${port}`,
      ok: free,
      found: free ? 'free' : `in use${holder ? ` by ${holder.text}${holder.labDir ? ', still running' : ''}` : ''}`,
      fix: free
        ? null
        : holder?.labDir
          ? `${labDownCommand(holder.labDir)} ("zonelab lab down --all" stops every lab left running), or give zonelab another address with ${flag}`
          : `stop ${holder?.text ?? 'what holds it'}, or give zonelab another address with ${flag}`,
      neededFor: role,
      required: true,
    });
  }
  return checks;
}

function commandWorks(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

export function networkFaultCheck(uid = process.getuid?.() ?? -1, haveNft = commandWorks('nft', ['--version'])): Check {
  const problems = [...(uid === 0 ? [] : ['not root']), ...(haveNft ? [] : ['nft not installed'])];
  return {
    name: 'root and nftables',
    ok: problems.length === 0,
    found: problems.length === 0 ? 'root, nft installed' : problems.join(', '),
    fix: problems.length === 0 ? null : [...(haveNft ? [] : ['apt-get install -y nftables']), ...(uid === 0 ? [] : ['run the command as root (sudo)'])].join('; '),
    neededFor: 'network faults (partition, reset)',
    required: false,
  };
}

export function chromiumCheck(path = findChromium()): Check {
  return {
    name: 'Chromium',
    ok: path !== null,
    found: path ?? 'not installed',
    fix: path ? null : 'apt-get install -y chromium',
    neededFor: 'report --pdf and the browser tests',
    required: false,
  };
}

/** gcloud installed, logged in, and (with a project) able to see it. */
export async function gcloudChecks(runner: CommandRunner, project: string | null): Promise<Check[]> {
  const commands = preflightCommands({ project: project ?? '' });
  const neededFor = 'zonelab gcp';
  const version = await runner.run(commands.version);
  if (version.code !== 0) {
    return [{ name: 'gcloud', ok: false, found: 'not installed', fix: 'install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install', neededFor, required: false }];
  }
  const checks: Check[] = [{ name: 'gcloud', ok: true, found: version.stdout.split('\n')[0]!.trim(), fix: null, neededFor, required: false }];
  const account = (await runner.run(commands.account)).stdout.trim().split('\n')[0]?.trim() ?? '';
  checks.push({ name: 'gcloud login', ok: account !== '', found: account || 'not logged in', fix: account ? null : 'gcloud auth login && gcloud auth application-default login', neededFor, required: false });
  if (project) {
    const seen = account !== '' && (await runner.run(commands.project)).code === 0;
    checks.push({
      name: `project ${project}`,
      ok: seen,
      found: seen ? 'visible' : account ? `${account} cannot see it` : 'not checked (not logged in)',
      fix: seen ? null : 'check the ID with "gcloud projects list", or log in as an account with a role on it',
      neededFor,
      required: false,
    });
  } else {
    const configured = (await runner.run(commands.defaultProject)).stdout.trim();
    checks.push({
      name: 'gcloud project',
      ok: configured !== '',
      found: configured || 'none set',
      fix: configured ? null : 'pass --project <id> to zonelab gcp (and to zonelab doctor to check it), or "gcloud config set project <id>"',
      neededFor,
      required: false,
    });
  }
  return checks;
}

/** The checks as a table a person reads top to bottom: what holds, then each fix. Pure. */
export function renderChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  const lines = checks.map((check) => {
    const mark = check.ok ? 'ok     ' : check.required ? 'MISSING' : 'missing';
    const fix = check.fix ? `\n          fix: ${check.fix}` : '';
    return `${mark}  ${check.name.padEnd(width)}  ${check.found}  (${check.neededFor})${fix}`;
  });
  const missing = checks.filter((check) => !check.ok && check.required);
  const optional = checks.filter((check) => !check.ok && !check.required);
  const verdict = missing.length
    ? `the default job (npm start) cannot run: ${missing.map((check) => check.name).join(', ')}`
    : `ready for the default job (npm start)${optional.length ? `; not ready for: ${[...new Set(optional.map((check) => check.neededFor))].join(', ')}` : ''}`;
  return `${lines.join('\n')}\n\n${verdict}`;
}
