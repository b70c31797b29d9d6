import { shellQuote } from '../shell-quote.js';
import { resourceNames } from './deployment.js';
import { commandsOf, EACH, type GcpPlan, GRANT_RETRY_DELAYS_MS, healthCommand, type PlanCommand, type PlanStep, WORK } from './plan.js';
import { planNotes, planSummary } from './summary.js';

/** One argument for the shell; the WORK placeholder becomes "$work", EACH the loop's variable. */
export function shellArgument(argument: string, eachName = 'each'): string {
  if (argument === '') return "''";
  return argument
    .split(WORK)
    .map((piece) =>
      piece
        .split(EACH)
        .map((part) => (part === '' ? '' : shellQuote(part)))
        .join(`"$${eachName}"`),
    )
    .join('"$work"');
}

/** A command as one shell line, continued over several when it is long. */
export function shellCommand(command: PlanCommand, eachName?: string): string {
  const words = [command.program, ...command.args].map((word) => shellArgument(word, eachName));
  let line = words.join(' ');
  if (line.length > 110) {
    line = words.reduce((text, word) => (word.startsWith('--') ? `${text} \\\n    ${word}` : `${text} ${word}`));
  }
  return command.inPackage ? `(cd "\${ZONELAB_HOME:-.}" && ${line})` : line;
}

/** A step as shell: once, or in a loop over its values; grants through `retry`, as up does. */
function stepScript(step: PlanStep): string {
  if (step.each?.values.length === 1) return stepScript({ ...step, run: commandsOf(step)[0]!, each: undefined });
  const command = shellCommand(step.run, step.each?.name);
  const line = step.retries ? `retry ${command}` : command;
  if (!step.each) return line;
  return `for ${step.each.name} in ${step.each.values.map((value) => shellArgument(value)).join(' ')}; do\n  ${line.replaceAll('\n', '\n  ')}\ndone`;
}

/**
 * Pure: the plan as a bash script a person can read, copy and run. It writes the VMs'
 * startup scripts to a temporary folder first, then runs every step in order.
 */
export function renderPlanScript(plan: GcpPlan): string {
  const d = plan.deployment;
  const names = resourceNames(d);
  const lines = [
    '#!/bin/bash',
    ...planSummary(plan).map((line) => `# ${line}`),
    '#',
    ...planNotes(d).map((note) => `# ${note}`),
    '#',
    '# Run it from a zonelab checkout after "npm ci && npm run build" (or set ZONELAB_HOME to one).',
    '# "zonelab gcp up" runs the same steps, skips resources that exist, and waits until every',
    '# backend is healthy; "zonelab gcp down" deletes them again.',
    'set -euo pipefail',
    '',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
    'zonelab() { node "${ZONELAB_HOME:-.}/dist/src/cli/main.js" "$@"; }',
    'work=$(mktemp -d)',
    'trap \'rm -rf "$work"\' EXIT',
    `# IAM can take a minute or more to know a new service account: a grant is tried again after ${GRANT_RETRY_DELAYS_MS.map((ms) => ms / 1000).join(', ')} s.`,
    `retry() { local wait; for wait in ${GRANT_RETRY_DELAYS_MS.map((ms) => ms / 1000).join(' ')}; do "$@" && return 0; echo "failed; trying again in $wait s" >&2; sleep "$wait"; done; "$@"; }`,
  ];
  for (const file of plan.files) {
    lines.push('', `cat > "$work/${file.name}" <<'ZONELAB_FILE'`, file.content.trimEnd(), 'ZONELAB_FILE');
  }
  plan.steps.forEach((step, index) => {
    lines.push('', `# ${index + 1}. ${step.title}: ${step.why}`, stepScript(step));
  });
  lines.push(
    '',
    `# Then wait until every backend is HEALTHY (the VMs take a few minutes to install Node.js and zonelab):`,
    `#   ${shellCommand(healthCommand(d)).replaceAll('\n', '\n#')}`,
    `# The load balancer's address: gcloud compute addresses describe ${names.address} --region=${d.region} --project=${d.project} --format='value(address)'`,
    '',
  );
  return lines.join('\n');
}
