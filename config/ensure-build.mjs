// The command-line tools' build step (package.json): builds dist/ only when the tool's own built file is
// missing (a fresh clone, or a tool newer than the build), never otherwise. `npm run build` removes dist/ first,
// and under a running service that would pull its files away (the verification worker is loaded when a check
// runs). Usage: node config/ensure-build.mjs dist/src/cli/<tool>.js
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const [file] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node config/ensure-build.mjs <built file>\n');
  process.exit(64);
}
if (!existsSync(file)) {
  process.stderr.write(`${file} is not built yet: building dist/ (npm run build)\n`);
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
}
