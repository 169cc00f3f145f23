import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The built service (dist/, made by `npm test`'s pretest build), run as a real process as `npm start` does. */
export const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

export interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output: () => string;
  /** Resolves with the exit code, or the name of the signal that killed the process. */
  exited: Promise<number | NodeJS.Signals | null>;
}

/** Starts `script` (by default the service) with only PATH and the given variables in its environment. */
export function launch(env: Record<string, string>, script = MAIN, args: string[] = []): Running {
  const child = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return { child, output: () => out, exited };
}

/**
 * A `launch` for one test file: every process it starts and a test leaves running is stopped after that test
 * (SIGTERM, then awaited), so that a failed test does not leave a service behind and jest waiting for it.
 */
export function launchedPerTest(): typeof launch {
  const launched: Running[] = [];
  afterEach(async () => {
    for (const run of launched.splice(0)) {
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill('SIGTERM');
        await run.exited;
      }
    }
  });
  return (...args) => {
    const run = launch(...args);
    launched.push(run);
    return run;
  };
}

/**
 * Polls GET /health until it answers 200 and the launched process has logged that it listens on `port`;
 * returns how long that took. Fails if the process exits first. The log line proves that the answer came from
 * this process and not from another one that holds the port.
 */
export async function waitForHealth(port: number, run: Running, timeoutMs = 30000): Promise<number> {
  const started = Date.now();
  const listening = `Haven listening on http://127.0.0.1:${port}"`;
  while (Date.now() - started < timeoutMs) {
    if (run.child.exitCode !== null) throw new Error(`service exited early:\n${run.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status === 200 && run.output().includes(listening)) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no /health from this process within ${timeoutMs} ms:\n${run.output()}`);
}

/**
 * Ports handed out by `freePort`: a block of 1,000 per jest worker (blocks 1-11; the global setup and the
 * benches that call it use block 0), below Linux's ephemeral range (32768 and up). Up to 11 workers never hand out the same
 * port (more share blocks, still checked free when handed out), and no outgoing connection or `listen(0)`
 * elsewhere takes one between the hand-out and the service's bind. Each test file starts at a random place in
 * its block, so that a port a previous file still holds is rarely tried first.
 */
const PORT_BLOCK = 1000;
const FIRST_PORT = 20000;
const worker = Number(process.env.JEST_WORKER_ID ?? 0);
const block = worker > 0 ? 1 + ((worker - 1) % 11) : 0;
let nextInBlock = randomInt(PORT_BLOCK);

/** A TCP port of this worker's block that nothing listens on at this moment on the loopback interface. */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < PORT_BLOCK; tried++) {
    const port = FIRST_PORT + block * PORT_BLOCK + (nextInBlock++ % PORT_BLOCK);
    if (await bindable(port)) return port;
  }
  throw new Error(
    `no free port in ${FIRST_PORT + block * PORT_BLOCK}-${FIRST_PORT + (block + 1) * PORT_BLOCK - 1}`,
  );
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Whether a process with this id exists (signal 0 only checks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
