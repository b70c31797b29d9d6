import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI_PATH } from './paths.js';

const run = promisify(execFile);

/**
 * Runs the real CLI to its end with extra environment (`undefined` removes a variable) and
 * never throws for a non-zero exit: the caller asserts the code and the lines.
 */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, ...args], { timeout: timeoutMs, env: merged });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
