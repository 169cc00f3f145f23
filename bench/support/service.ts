// Starting the built service (dist/, `npm run build`) as a real process for benchmarks, and talking to it.
import { ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/support/process';

export { freePort };

export const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

export interface Service {
  base: string;
  port: number;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<number | null>;
}

/**
 * Launches `node dist/src/main.js` with the given environment (plus PATH). Its output goes to a log file,
 * not through this process, so that logging costs the service what it costs in production.
 */
export async function launchService(
  env: Record<string, string>,
  logFile: string,
  nodeArgs: string[] = [],
  main = MAIN,
): Promise<Service> {
  const port = Number(env.PORT ?? (await freePort()));
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', ...env, PORT: String(port) },
    stdio: ['ignore', fd, fd],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(
        `service exited early (${child.exitCode}):\n${readFileSync(logFile, 'utf8').slice(-3000)}`,
      );
    }
    if (Date.now() - started > 60000) throw new Error(`no /health within 60 s; see ${logFile}`);
    try {
      if ((await fetch(`${base}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    child,
    logFile,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/** A small JSON client with a bearer token. */
export function api(base: string, token?: string) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new ApiError(res.status, text);
    return (text ? JSON.parse(text) : {}) as T;
  };
}

export async function signIn(base: string, username: string, password: string): Promise<string> {
  const { accessToken } = await api(base)<{ accessToken: string }>('POST', '/api/v1/auth/login', {
    username,
    password,
  });
  return accessToken;
}

/** Runs `fn` over `items` with at most `concurrency` calls at once; results in order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/** A synthetic case body (commune 00145 of the demo data); `n` makes the names and numbers distinct. */
export function syntheticCase(n: number): Record<string, unknown> {
  return {
    wardCode: '00145',
    reportedAt: '2026-11-20T09:00:00+07:00',
    reportChannel: 'walk_in',
    survivor: {
      fullName: `Thử Nghiệm Tải ${n}`,
      sex: 'female',
      dateOfBirth: '1990-01-15',
      phone: `0900 ${String(n % 1_000_000).padStart(6, '0')}`,
      address: `Địa chỉ giả định số ${n}, phường Long Biên`,
    },
    incident: {
      occurredAt: '2026-11-19T21:00:00+07:00',
      forms: ['physical', 'psychological'],
      gbvType: 'physical_assault',
      narrative: `Tường thuật giả định số ${n}: nội dung dài vừa phải để giống một ghi chép thật của cán bộ.`,
    },
    perpetrator: { fullName: `Người Giả Định ${n}`, relationship: 'spouse' },
    health: { injuries: 'vết bầm giả định' },
    risk: { level: 'high' },
  };
}
