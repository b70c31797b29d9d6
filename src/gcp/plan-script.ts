import { shellQuote } from '../shell-quote.js';
import { resourceNames } from './deployment.js';
import { type GcpPlan, healthCommand, type PlanCommand, planNotes, WORK } from './plan.js';

/** One argument for the shell; the WORK placeholder becomes "$work". */
export function shellArgument(argument: string): string {
  if (argument === '') return "''";
  return argument
    .split(WORK)
    .map((piece) => (piece === '' ? '' : shellQuote(piece)))
    .join('"$work"');
}

/** A command as one shell line, continued over several when it is long. */
export function shellCommand(command: PlanCommand): string {
  const words = [command.program, ...command.args].map(shellArgument);
  let line = words.join(' ');
  if (line.length > 110) {
    line = words.reduce((text, word) => (word.startsWith('--') ? `${text} \\\n    ${word}` : `${text} ${word}`));
  }
  return command.inPackage ? `(cd "\${ZONELAB_HOME:-.}" && ${line})` : line;
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
    `# zonelab on Google Cloud: project ${d.project}, region ${d.region}, zones ${d.zones.join(', ')}, ${d.machineType} VMs.`,
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
  ];
  for (const file of plan.files) {
    lines.push('', `cat > "$work/${file.name}" <<'ZONELAB_FILE'`, file.content.trimEnd(), 'ZONELAB_FILE');
  }
  plan.steps.forEach((step, index) => {
    lines.push('', `# ${index + 1}. ${step.title}: ${step.why}`);
    if (step.retries) {
      // IAM takes a few seconds to know a new service account: try again, as up does.
      lines.push('for attempt in 1 2 3 4 5 6; do', `  ${shellCommand(step.run).replaceAll('\n', '\n  ')} && break`, '  [ "$attempt" = 6 ] && exit 1', '  sleep 5', 'done');
    } else {
      lines.push(shellCommand(step.run));
    }
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
