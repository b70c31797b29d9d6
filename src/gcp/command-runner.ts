import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type PlanCommand, WORK } from './plan.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a plan's commands. The adapter below runs the real programs; tests put a stand-in gcloud on PATH. */
export interface CommandRunner {
  run(command: PlanCommand): Promise<CommandResult>;
}

/** The zonelab package's folder (npm pack runs there) and its CLI (zonelab steps run it). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export function processRunner(workDir: string): CommandRunner {
  return {
    run(command) {
      const args = command.args.map((argument) => argument.replaceAll(WORK, workDir));
      const [file, argv] = command.program === 'zonelab' ? [process.execPath, [CLI, ...args]] : [command.program, args];
      return new Promise((resolve) => {
        const child = spawn(file, argv, { cwd: command.inPackage ? PACKAGE_ROOT : undefined, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
        });
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
        });
        child.on('error', (error: NodeJS.ErrnoException) => {
          const hint = error.code === 'ENOENT' && command.program === 'gcloud' ? ' (install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install)' : '';
          resolve({ code: 127, stdout, stderr: `${command.program}: ${error.message}${hint}` });
        });
        child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
      });
    },
  };
}
