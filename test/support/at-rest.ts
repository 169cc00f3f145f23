import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { embeddedBinDir } from '../../src/database/embedded-postgres';

/** Tools for the stolen-backup tests: search the PostgreSQL data directory and a logical dump for bytes. */

/** Every regular file under `root`, read in chunks (with overlap), searched for every needle. */
export function scanDirectory(
  root: string,
  needles: Buffer[],
): { scanned: number; hits: Map<Buffer, string[]> } {
  const hits = new Map<Buffer, string[]>();
  const overlap = Math.max(...needles.map((n) => n.length));
  const chunk = Buffer.alloc(8 * 1024 * 1024 + overlap);
  let scanned = 0;
  const visit = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a database dropped by another test file meanwhile
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.isFile()) {
        let fd: number;
        try {
          fd = openSync(path, 'r');
        } catch {
          continue;
        }
        try {
          scanned++;
          let carried = 0;
          for (;;) {
            const n = readSync(fd, chunk, carried, chunk.length - carried, null);
            if (n === 0) break;
            const window = chunk.subarray(0, carried + n);
            for (const needle of needles) {
              if (window.includes(needle)) {
                const list = hits.get(needle) ?? [];
                if (!list.includes(path)) list.push(path);
                hits.set(needle, list);
              }
            }
            carried = Math.min(overlap, window.length);
            window.copy(chunk, 0, window.length - carried);
          }
        } finally {
          closeSync(fd);
        }
      }
    }
  };
  visit(root);
  return { scanned, hits };
}

/**
 * pg_dump when a version able to dump this server is installed (pg_dump refuses newer servers); otherwise
 * every row of every table in the database as text (what a data-only plain dump contains: text verbatim,
 * bytea as hex), read over SQL.
 */
export async function logicalDump(
  dataSource: DataSource,
  url: string,
): Promise<{ tool: string; text: Buffer }> {
  const [{ server_version_num }] = await dataSource.query(
    `SELECT current_setting('server_version_num') AS server_version_num`,
  );
  const serverMajor = Math.floor(Number(server_version_num) / 10000);
  const candidates = [
    process.env.HAVEN_TEST_PG_DUMP,
    join(embeddedBinDir(), 'pg_dump'),
    ...listDir('/usr/lib/postgresql').map((v) => join('/usr/lib/postgresql', v, 'bin', 'pg_dump')),
    '/usr/bin/pg_dump',
  ].filter((p): p is string => !!p && existsSync(p) && statSync(p).isFile());
  for (const bin of candidates) {
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' });
    const major = Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1]);
    if (major >= serverMajor) {
      const text = execFileSync(bin, ['--no-owner', '--format=plain', `--dbname=${url}`], {
        maxBuffer: 512 * 1024 * 1024,
      });
      return { tool: `${bin} (${version.trim()})`, text };
    }
  }
  const tables: Array<{ name: string }> = await dataSource.query(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows: Array<{ line: string }> = await dataSource.query(`SELECT t::text AS line FROM ${name} t`);
    parts.push(`-- ${name}`, ...rows.map((r) => r.line));
  }
  return {
    tool: `SQL row dump (no pg_dump >= ${serverMajor} installed)`,
    text: Buffer.from(parts.join('\n')),
  };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
