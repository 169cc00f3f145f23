// Measures how long `npm start`'s service takes to answer GET /health: a first start (creates the cluster,
// migrates, seeds) and then N second starts on the same data directory. Run: npm run bench:startup
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? 5);
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

// 'npm': the whole `npm start` (prestart build included); 'node': the built service alone.
async function startOnce(env, via) {
  const t0 = performance.now();
  const [cmd, args] =
    via === 'npm' ? ['npm', ['start', '--silent']] : [process.execPath, ['dist/src/main.js']];
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    detached: true,
  });
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${env.PORT}/health`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error('service exited');
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - t0;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid, 'SIGTERM'); // the whole group, as a terminal's Ctrl-C would
  await exited;
  return ms;
}

const dir = mkdtempSync(join(tmpdir(), 'haven-startup-'));
try {
  const env = {
    HAVEN_DATA_DIR: dir,
    PORT: String(await freePort()),
    HAVEN_EMBEDDED_PG_PORT: String(await freePort()),
  };
  const first = await startOnce(env, 'node');
  const result = { date: new Date().toISOString(), cores: cpus().length, firstStartMs: Math.round(first) };
  for (const via of ['npm', 'node']) {
    const again = [];
    for (let i = 0; i < runs; i++) again.push(await startOnce(env, via));
    again.sort((a, b) => a - b);
    result[via === 'npm' ? 'npmStartSecondStartMs' : 'nodeSecondStartMs'] = {
      median: Math.round(again[Math.floor(again.length / 2)]),
      max: Math.round(again[again.length - 1]),
    };
  }
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
