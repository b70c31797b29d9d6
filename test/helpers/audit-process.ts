import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI_PATH } from './paths.js';
import { waitFor } from './wait.js';

export interface AuditProcess {
  child: ChildProcess;
  /** Every line printed on standard output so far. */
  lines: string[];
  stderr: () => string;
  waitForLines(count: number, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

/** Starts `zonelab audit` as a child process and collects what it prints. */
export function startAuditProcess(args: string[]): AuditProcess {
  const child = spawn(process.execPath, [CLI_PATH, 'audit', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stderr: () => stderr,
    waitForLines: (count, timeoutMs = 10_000) =>
      waitFor(() => lines.length >= count || child.exitCode !== null, timeoutMs, `${count} audit lines`).then(() => {
        if (lines.length < count) throw new Error(`audit exited after ${lines.length} lines: ${stderr}`);
      }),
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
