import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { addressFree } from '../../src/lab/addresses.js';
import { isOurs, signalIfOurs, stopProcess, untilGone, waitForExit } from '../../src/processes.js';

/** A real child that prints "ready" once `script` has run, and may rename itself (its /proc command line then loses the marker). */
async function startChild(marker: string, script: string) {
  const child = spawn(process.execPath, ['-e', `${script}; process.stdout.write('ready')`, marker], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = once(child, 'exit');
  await once(child.stdout!, 'data');
  assert.ok(isOurs(child.pid!, marker), 'the child shows its marker');
  return { child, exited };
}

/** Whether the kernel still runs `pid` (a zombie has closed its files and runs no more). */
function running(pid: number): boolean {
  try {
    return !['Z', 'X'].includes(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)![0]!);
  } catch {
    return false;
  }
}

describe('following a process of ours to its end (real child processes, real signals)', () => {
  it('waits for the process itself, not for its command line to change', async () => {
    const marker = `zonelab-test-rename-${process.pid}-${Date.now()}`;
    const { child, exited } = await startChild(marker, "setTimeout(() => { process.title = 'renamed' }, 50); setTimeout(() => {}, 700)");
    assert.equal(await waitForExit(child.pid!, marker, 10_000), true);
    // Renamed 50 ms in, alive until 700 ms: at the moment waitForExit answers, it runs no more.
    assert.equal(running(child.pid!), false, 'the child had ended when waitForExit resolved');
    await exited;
  });

  it('stops a process that renames itself on SIGTERM and ignores it: SIGKILL after the grace', async () => {
    const marker = `zonelab-test-stubborn-${process.pid}-${Date.now()}`;
    const { child, exited } = await startChild(marker, "process.on('SIGTERM', () => { process.title = 'renamed' }); setInterval(() => {}, 1000)");
    try {
      await stopProcess(child.pid!, marker, 300);
      assert.equal(running(child.pid!), false, 'stopped when stopProcess resolved');
    } finally {
      if (running(child.pid!)) child.kill('SIGKILL');
      await exited;
    }
    assert.equal(child.signalCode, 'SIGKILL');
  });

  it('waits for the last thread: a main thread that ended first leaves its sockets open until the others end', async () => {
    // Python ends its main thread alone (pthread_exit) once told on its standard input, while a
    // second thread holds a listening socket for 600 ms more: the kernel then shows the main
    // thread as a zombie. HAProxy and Node run several threads and can end in this order.
    const marker = `zonelab-test-threads-${process.pid}-${Date.now()}`;
    const script = [
      'import ctypes, os, socket, sys, threading, time',
      "listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()",
      'print(listener.getsockname()[1], flush=True)',
      'sys.stdin.readline()',
      'threading.Thread(target=lambda: (time.sleep(0.6), os._exit(0))).start()',
      'ctypes.CDLL(None).pthread_exit(None)',
    ].join('\n');
    const child = spawn('python3', ['-c', script, marker], { stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = once(child, 'exit');
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = Number(line.toString().trim());
    // waitForExit knows the process as ours at once, before the main thread is told to end.
    const waited = waitForExit(child.pid!, marker, 10_000);
    child.stdin!.end('end\n');
    assert.equal(await waited, true);
    assert.equal(await addressFree('127.0.0.1', port), true, 'the listening socket was closed when waitForExit resolved');
    await exited;
  });

  it('follows a signalled process by the identity taken before the signal, to its last thread', async () => {
    // On SIGTERM the main thread ends at once (its command line empties, it shows as a
    // zombie), while another thread holds the listening socket 600 ms more.
    const marker = `zonelab-test-signalled-${process.pid}-${Date.now()}`;
    const script = [
      'import ctypes, os, signal, socket, sys, threading, time',
      "listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()",
      'def hold(): time.sleep(0.6); os._exit(0)',
      'def ended(*_): threading.Thread(target=hold).start(); ctypes.CDLL(None).pthread_exit(None)',
      'signal.signal(signal.SIGTERM, ended)',
      'print(listener.getsockname()[1], flush=True)',
      'while True: time.sleep(1)',
    ].join('\n');
    const child = spawn('python3', ['-c', script, marker], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = once(child, 'exit');
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = Number(line.toString().trim());
    const identity = signalIfOurs(child.pid!, marker, 'SIGTERM');
    assert.ok(identity, 'ours, and signalled');
    assert.equal(await untilGone(identity, 10_000), true);
    assert.equal(await addressFree('127.0.0.1', port), true, 'the listening socket was closed when untilGone resolved');
    await exited;
  });

  it('leaves alone a pid that is not ours', async () => {
    assert.equal(await waitForExit(process.pid, 'no-such-marker-in-this-command-line', 10), true);
    await stopProcess(process.pid, 'no-such-marker-in-this-command-line', 10);
    assert.ok(running(process.pid));
  });
});
