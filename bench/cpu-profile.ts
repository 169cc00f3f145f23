// Where a scenario's service CPU goes: reads a V8 CPU profile written by `npm run bench -- --cpu-prof dir` and
// the run's http.json (which has each scenario's window on the same monotonic clock as the profile), and prints,
// per scenario, the busy time by package (the node_modules package, Haven's own code by top folder, node's
// internals) and the functions with the most self time.
//
//   node bench/run.mjs bench/cpu-profile.ts <dir with *.cpuprofile> <http.json> [--scenario text] [--top n]
//   node bench/run.mjs bench/cpu-profile.ts <dir with *.cpuprofile> --whole   (the whole profile as one window)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg } from './support/proc';

interface Scenario {
  name: string;
  profileWindowUs?: [number, number];
}
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [dir, httpJson] = process.argv.slice(2);
const whole = process.argv.includes('--whole');
if (!dir || (!httpJson && !whole)) {
  process.stderr.write(
    'usage: node bench/run.mjs bench/cpu-profile.ts <profile dir> <http.json>|--whole [--scenario text] [--top n]\n',
  );
  process.exit(2);
}
const TOP = Number(arg('--top') ?? 15);
const only = arg('--scenario');

const report: { scenarios: Scenario[] } = whole
  ? { scenarios: [{ name: 'whole profile', profileWindowUs: [-Infinity, Infinity] }] }
  : (JSON.parse(readFileSync(httpJson, 'utf8')) as { scenarios: Scenario[] });
const scenarios = report.scenarios.filter((s) => s.profileWindowUs && (!only || s.name.includes(only)));
if (scenarios.length === 0) {
  process.stderr.write(
    'no scenario with a profileWindowUs in that http.json (run the bench with --cpu-prof)\n',
  );
  process.exit(2);
}

/** The package a script URL belongs to. */
function owner(url: string): string {
  if (!url) return '(native, GC, idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const src = url.indexOf('/dist/src/');
  if (src >= 0) return `haven:${url.slice(src + '/dist/src/'.length).split('/')[0]}`;
  if (url.startsWith('node:')) return 'node (internals)';
  return url;
}

const totals = new Map(
  scenarios.map((s) => [
    s.name,
    { samples: 0, pkg: new Map<string, number>(), fn: new Map<string, number>() },
  ]),
);
for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const s = scenarios.find((x) => t >= x.profileWindowUs![0] && t <= x.profileWindowUs![1]);
    if (!s) continue;
    const node = nodes.get(profile.samples[i])!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    const acc = totals.get(s.name)!;
    acc.samples++;
    const pkg = functionName.startsWith('(') && !url ? functionName : owner(url);
    acc.pkg.set(pkg, (acc.pkg.get(pkg) ?? 0) + 1);
    const fn = `${functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : ''}`;
    acc.fn.set(fn, (acc.fn.get(fn) ?? 0) + 1);
  }
}

const pct = (n: number, of: number): string => `${((100 * n) / Math.max(1, of)).toFixed(1).padStart(5)} %`;
for (const s of scenarios) {
  const acc = totals.get(s.name)!;
  process.stdout.write(`\n## ${s.name}: ${acc.samples} busy samples\n\nby package:\n`);
  for (const [k, v] of [...acc.pkg].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    process.stdout.write(`  ${pct(v, acc.samples)}  ${k}\n`);
  }
  process.stdout.write('by function (self time):\n');
  for (const [k, v] of [...acc.fn].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    process.stdout.write(`  ${pct(v, acc.samples)}  ${k}\n`);
  }
}
