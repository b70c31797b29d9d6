/**
 * `npm run bench`: every benchmark in turn, each in its own process (so one failing or
 * missing its tools does not stop the others); exits non-zero if any did not pass.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = ['server', 'events', 'client', 'lab'];
const outcomes: string[] = [];
for (const name of BENCHMARKS) {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  process.stderr.write(`\n=== bench:${name} ===\n`);
  const { status } = spawnSync(process.execPath, [script, ...process.argv.slice(2)], { stdio: 'inherit' });
  outcomes.push(`bench:${name}: ${status === 0 ? 'PASS' : status === 2 ? 'SKIPPED (tools missing)' : 'FAIL'}`);
}
console.log(`\n${outcomes.join('\n')}`);
process.exitCode = outcomes.every((line) => line.endsWith('PASS')) ? 0 : 1;
