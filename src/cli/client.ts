import { type Command, Option } from 'commander';
import { pagePath, runClient } from '../client/index.js';
import { examples } from './examples.js';
import { INTERRUPTED_EXIT_CODE, interruptible } from './signals.js';
import { countryOption, durationOption, integerIn, nonEmpty, parseDuration, parsePort, positiveNumber } from './option-parsers.js';

interface ClientFlags {
  domain: string;
  port: number;
  bucketName: string;
  bucket?: string;
  webdir: string;
  num_requests: number;
  index: number;
  follow: boolean;
  ssl: boolean;
  verbose: boolean;
  random: number;
  rate?: number;
  concurrency: number;
  duration?: number;
  keepalive: boolean;
  timeout: number;
  retries: number;
  out?: string;
  json: boolean;
  country?: string;
}

export function registerClient(program: Command): void {
  program
    .command('client')
    .summary("the course's HTTP client, flag-compatible, grown into a measuring load generator")
    .description(
      "the course's HTTP client with its flags and defaults: GET /<bucket>/<webdir>/<n>.html (n uniform in " +
        '0…index-1) with the random X-country, X-client-IP, X-gender, X-age, X-income and X-time headers, ' +
        'one new connection per request, 5 s timeout. Measuring: --rate (open loop, latency from the ' +
        'intended start) or --concurrency (closed loop), --duration instead of -n, --keepalive, --retries, ' +
        '--out results.ndjson. Prints a summary per zone and per instance at the end; Ctrl-C stops early ' +
        '(summary so far, exit 130). Exit 1 when no request got an answer.',
    )
    .option('-d, --domain <host>', 'server host name or address', 'localhost')
    .option('-p, --port <n>', 'server port (443 with --ssl when left at 80)', parsePort, 80)
    .option('-b, --bucket-name <name>', 'first path segment: the bucket\'s name ("none": left out)', nonEmpty('--bucket-name'), 'none')
    // --bucket is a folder or gs:// everywhere else; the old spelling still works here, with a hint.
    .addOption(new Option('--bucket <name>', 'renamed: --bucket-name').argParser(nonEmpty('--bucket')).hideHelp())
    .option('-w, --webdir <name>', 'second path segment ("none": left out)', nonEmpty('--webdir'), 'none')
    .option('-n, --num_requests <n>', 'number of requests (ignored with --duration)', integerIn(1, 1_000_000_000), 1)
    .option('-i, --index <n>', 'highest file index: pages are drawn from 0…n-1', integerIn(1, 1_000_000_000), 10_000)
    .option('-f, --follow', 'follow Location redirects', false)
    .option('-s, --ssl', 'use HTTPS', false)
    .option('-v, --verbose', 'print one line per response: time, status, reason, zone, instance', false)
    .option('-r, --random <seed>', 'random seed; the same seed sends the same paths and headers (0: unseeded)', integerIn(0, 2 ** 31 - 1), 0)
    .option('--rate <r>', 'open loop: start r requests per second on schedule, whatever the answers', positiveNumber())
    .option('--concurrency <c>', 'closed loop: keep c requests in flight (with --rate: the keep-alive pool size)', integerIn(1, 10_000), 1)
    .option('--duration <d>', 'run this long (30s, 2m, 500ms) instead of -n requests', parseDuration)
    .option('--keepalive', 'reuse a pool of connections instead of a new one per request', false)
    .addOption(durationOption('--timeout <d>', 'per-attempt timeout', 5000, '5s'))
    .option('--retries <n>', 'retry connection failures this many times, each on a new connection', integerIn(0, 100), 0)
    .option('--country <name>', 'send every request as from this country, any case (e.g. Iran: all refused with 400)', countryOption)
    .option('--out <file>', 'write one RequestResult record per attempt (NDJSON)')
    .option('--json', 'print the summary as JSON', false)
    .addHelpText(
      'after',
      examples([
        ['the course client\'s own call: 10 requests to a load balancer', 'zonelab client -d 203.0.113.7 -p 8080 -b my-course-bucket -w webdir -n 10 -v'],
        ['100 requests a second for 30 s through the local lab, records kept', 'zonelab client -d 127.0.0.1 -p 8080 -b bucket -w webdir --rate 100 --duration 30s --out results.ndjson'],
        ['only refused requests (the audit prints each)', 'zonelab client -d 127.0.0.1 -p 8080 -b bucket -w webdir -n 20 --country Iran'],
      ]),
    )
    .action(async (flags: ClientFlags, command: Command) => {
      const port = flags.ssl && command.getOptionValueSource('port') === 'default' ? 443 : flags.port;
      if (flags.bucket !== undefined) process.stderr.write(`note: the client's --bucket is now --bucket-name (or -b) ${flags.bucket}\n`);
      const stop = interruptible();
      const { summary, interrupted } = await runClient({
        host: flags.domain,
        port,
        ssl: flags.ssl,
        bucket: flags.bucket ?? flags.bucketName,
        webdir: flags.webdir,
        index: flags.index,
        seed: flags.random,
        country: flags.country,
        requests: flags.duration === undefined ? flags.num_requests : undefined,
        durationMs: flags.duration,
        mode: flags.rate !== undefined ? { kind: 'open', rate: flags.rate } : { kind: 'closed', concurrency: flags.concurrency },
        keepalive: flags.keepalive,
        timeoutMs: flags.timeout,
        retries: flags.retries,
        follow: flags.follow,
        verbose: flags.verbose,
        json: flags.json,
        out: flags.out,
        signal: stop.signal,
      });
      stop.release();
      if (interrupted) process.exitCode = stop.exitCode ?? INTERRUPTED_EXIT_CODE;
      else if (summary.requests > 0 && summary.answered === 0) {
        process.stderr.write(`zonelab: no request got an answer from ${flags.domain}:${port}\n`);
        process.exitCode = 1;
      } else if (summary.notFound * 2 > summary.answered) {
        // "4 answered, 0 failed" of 404s looks like success: say what was asked for instead.
        const bucket = flags.bucket ?? flags.bucketName;
        const first = pagePath(bucket, flags.webdir, 0);
        const asked = flags.index > 1 ? `${first} … ${pagePath(bucket, flags.webdir, flags.index - 1)}` : first;
        process.stderr.write(
          `zonelab: ${summary.notFound} of the ${summary.answered} answers were 404 Not Found for ${asked}: check -b (the bucket), -w (its folder) and -i (how many pages); the local lab serves /bucket/webdir/0.html … /bucket/webdir/9999.html\n`,
        );
        process.exitCode = 1;
      }
    });
}
