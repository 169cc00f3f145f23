import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AUDIT_ACTIONS } from './audit.types';

const SRC = join(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    // The service's code only: not a test, nor a test's helpers (they write entries of their own).
    return e.name.endsWith('.ts') && !/\.spec(-helpers)?\.ts$/.test(e.name) ? [path] : [];
  });
}

describe('access-log actions', () => {
  // An action the filter accepts and the docs list, but that nothing writes, would make a supervisor search
  // the log for events that can never be there (note.read was one).
  it('every action a supervisor can filter by is written somewhere in the service', () => {
    const code = sourceFiles(SRC)
      .filter((f) => relative(SRC, f) !== join('audit', 'audit.types.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const unwritten = AUDIT_ACTIONS.filter((a) => !code.includes(`'${a}'`));
    expect(unwritten).toEqual([]);
  });
});
