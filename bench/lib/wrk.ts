import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

export interface WrkResult {
  requestsPerSec: number;
  /** Responses wrk counted in all. */
  requests: number;
  p99Ms: number;
  /** Responses outside 2xx/3xx plus socket errors: anything but 0 spoils a run that expects 200s. */
  errors: number;
  /** Responses outside 2xx/3xx. */
  non2xx: number;
  /** Connect, read, write and timeout errors. */
  socketErrors: number;
}

const run = promisify(execFile);

/**
 * A wrk script that asks for a uniformly random page `0.html … <count-1>.html` under
 * `prefix`, with the given extra request headers.
 */
export async function writeRandomPagesScript(path: string, prefix: string, count: number, headers: Record<string, string> = {}): Promise<void> {
  const headerTable = Object.entries(headers)
    .map(([name, value]) => `["${name}"] = "${value}"`)
    .join(', ');
  await writeFile(
    path,
    [
      'math.randomseed(os.time())',
      `local headers = { ${headerTable} }`,
      'request = function()',
      `  return wrk.format("GET", "${prefix}" .. math.random(0, ${count - 1}) .. ".html", headers)`,
      'end',
      '',
    ].join('\n'),
  );
}

function toMs(value: string, unit: string): number {
  const factor = unit === 'us' ? 0.001 : unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : Number.NaN;
  return Number(value) * factor;
}

/** Parses wrk's report (run with --latency). */
export function parseWrkOutput(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  if (!rps || !p99) throw new Error(`cannot read wrk's report:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xxCount = Number(non2xx?.[1] ?? 0);
  const socketErrorCount = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const errors = non2xxCount + socketErrorCount;
  const total = /(\d+) requests in /.exec(output);
  return { requestsPerSec: Number(rps[1]), requests: Number(total?.[1] ?? 0), p99Ms: toMs(p99[1]!, p99[2]!), errors, non2xx: non2xxCount, socketErrors: socketErrorCount };
}

/** Runs wrk for `seconds` against `url` and returns its figures. */
export async function runWrk(options: {
  url: string;
  script: string;
  seconds: number;
  connections: number;
  threads: number;
}): Promise<WrkResult> {
  const { stdout } = await run(
    'wrk',
    ['-t', String(options.threads), '-c', String(options.connections), '-d', `${options.seconds}s`, '--latency', '-s', options.script, options.url],
    { timeout: (options.seconds + 30) * 1000 },
  );
  return parseWrkOutput(stdout);
}
