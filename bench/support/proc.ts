// What benchmarks read of the machine (/proc) and of their command line.
import { readdirSync, readFileSync } from 'node:fs';

/** The value after `--name` on the command line, if any. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const USER_HZ = 100;

function stat(pid: string | number): { comm: string; cpu: number; children: number } {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')),
      cpu: (Number(fields[11]) + Number(fields[12])) / USER_HZ,
      // utime + stime of its children that exited and were waited for (the postmaster's backends).
      children: (Number(fields[13]) + Number(fields[14])) / USER_HZ,
    };
  } catch {
    return { comm: '', cpu: 0, children: 0 }; // gone meanwhile
  }
}

/** CPU seconds (user + system) used so far by a process. */
export function cpuSecondsOf(pid: number): number {
  return stat(pid).cpu;
}

/**
 * CPU seconds used so far by every PostgreSQL process of the machine, those that ended included (a backend's
 * time is added to its postmaster's children's time when it exits).
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const s = stat(pid);
    if (s.comm === 'postgres') total += s.cpu + s.children;
  }
  return total;
}

/** Resident memory of a process, in MiB. */
export function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
}
