import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const ROOT = join(__dirname, '..');
/** Files the service writes under its data directory, which the docs describe. */
const MADE_AT_RUN_TIME = new Set(['keyring.json']);

const SKIPPED = new Set(['node_modules', 'dist', '.git', 'data', 'tmp', 'coverage']);

/** The repository's files under `dir` (relative paths), without dependencies, builds and run-time data. */
function listed(dir = ''): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    if (SKIPPED.has(e.name)) return [];
    const path = dir ? `${dir}/${e.name}` : e.name;
    return e.isDirectory() ? listed(path) : [path];
  });
}

const DOCS = ['README.md', 'bench/README.md', ...listed('docs').filter((f) => f.endsWith('.md'))];

describe('the documentation', () => {
  // A doc that sends the reader to a file that was renamed or removed (report-denial.filter.ts once) is wrong
  // about the code it describes.
  it('names only files that exist: each `path` with a directory, and each bare `name.ts`', () => {
    const files = listed();
    const paths = new Set(files);
    const names = new Set(files.map((f) => basename(f)));
    const dangling: string[] = [];
    for (const doc of DOCS) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const [, quoted] of text.matchAll(/`([^`\s]+)`/g)) {
        const ref = quoted.replace(/[#:].*$/, '').replace(/^\.\//, '');
        if (!/\.(ts|js|mjs|json|md|sql|txt)$/.test(ref)) continue;
        if (/[*{}<>$]/.test(ref)) continue; // patterns and placeholders, not files
        if (ref.startsWith('.') || MADE_AT_RUN_TIME.has(ref)) continue;
        // A path may be relative to the doc's part of the tree (`results/…` in bench's docs).
        const known = ref.includes('/')
          ? paths.has(ref) || files.some((f) => f.endsWith(`/${ref}`))
          : names.has(ref);
        if (!known) dangling.push(`${doc}: ${quoted}`);
      }
    }
    expect(dangling).toEqual([]);
  });
});
