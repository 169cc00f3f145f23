import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
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

/** Polls GET /health until it answers 200; returns how long that took. Fails if the process exits first. */
export async function waitForHealth(port: number, run: Running, timeoutMs = 30000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (run.child.exitCode !== null) throw new Error(`service exited early:\n${run.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no /health within ${timeoutMs} ms:\n${run.output()}`);
}

/** A TCP port that was free a moment ago on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
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
