import { spawn } from 'node:child_process';
import { ZonelabError } from '../../errors.js';

/** Runs a fault or restart command through the shell; rejects with its output when it fails. */
export function runShellCommand(command: string, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new ZonelabError('E_FAULT_COMMAND', `cannot run "${command}": ${error.message}`, { cause: error }));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new ZonelabError('E_FAULT_COMMAND', `"${command}" failed (${signal ?? `exit ${code}`}): ${output.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}
