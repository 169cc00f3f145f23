// Runs a TypeScript benchmark with the project's own SWC settings and no build step:
//   node bench/run.mjs bench/crypto.bench.ts [args...]
// (ts-node/tsx are not dependencies; @swc/core is.)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);
const Module = require('node:module');
const { transformSync } = require('@swc/core');
const { $schema: _schema, ...swcrc } = JSON.parse(
  readFileSync(new URL('../.swcrc', import.meta.url), 'utf8'),
);

Module._extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    ...swcrc,
    filename,
    swcrc: false,
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};

const [script, ...args] = process.argv.slice(2);
if (!script) {
  process.stderr.write('usage: node bench/run.mjs <file.ts> [args...]\n');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(script), ...args];
require(resolve(script));
