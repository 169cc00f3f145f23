import 'reflect-metadata';
import { runTool } from './run-tool';
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/config';
import { dataSourceOptions } from '../database/data-source-options';
import { callerPath, connected, pendingMigrationsApplied, startToolDatabase } from './data-dir';
import { importUnits, parseUnitsFile, UnitsFileError } from '../directory/admin-unit-importer';

/** The changes of known units an import lists (a dry run lists every one; each is counted). */
const CHANGES_LISTED = 50;

/**
 * `npm run units:import -- [--dry-run] <file.json>`: loads the official administrative units into the database
 * (DATABASE_URL, or the embedded server under HAVEN_DATA_DIR - stop the service first). Safe to run again:
 * unchanged units are left alone. Lists what it changes of the units known before (their names and types: what
 * ward officers pick communes by); `--dry-run` lists it and writes nothing.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const dryRun = args[0] === '--dry-run';
  const [given, extra] = dryRun ? args.slice(1) : args;
  if (!given || extra !== undefined || given.startsWith('--')) {
    process.stderr.write('usage: units-import [--dry-run] <units.json>\n');
    return 64; // EX_USAGE
  }
  const file = callerPath(given);
  let rows;
  try {
    // A byte-order mark (as some editors and exports write it) is not part of the JSON.
    rows = parseUnitsFile(JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, '')) as unknown);
  } catch (e) {
    const message = e instanceof UnitsFileError ? e.message : `Cannot read ${file}: ${(e as Error).message}`;
    process.stderr.write(`${message}\n`);
    return 65; // EX_DATAERR
  }

  const config = loadConfig();
  const database = await startToolDatabase(config);
  const dataSource = await connected(
    database,
    dataSourceOptions({ url: database.url, poolSize: 2, applicationName: 'haven-units-import' }),
  );
  try {
    await pendingMigrationsApplied(dataSource, config.database.allowNewerSchema);
    const r = await importUnits(dataSource, rows, { dryRun });
    const line = (name: string, c: { inserted: number; updated: number; unchanged: number }) =>
      `${name}: ${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged\n`;
    if (dryRun) process.stdout.write('dry run: nothing was written; the import would make these changes\n');
    process.stdout.write(line('provinces', r.provinces) + line('communes', r.communes));
    // An import lists the first CHANGES_LISTED; a dry run, every one (a whole list renamed is read there).
    const listed = dryRun ? r.changes : r.changes.slice(0, CHANGES_LISTED);
    for (const c of listed) {
      process.stdout.write(`  ${c.code} ${c.field}: ${JSON.stringify(c.was)} -> ${JSON.stringify(c.now)}\n`);
    }
    if (r.changes.length > listed.length) {
      process.stdout.write(
        `  ... and ${r.changes.length - listed.length} more changes (--dry-run lists them all)\n`,
      );
    }
    if (r.notInFile)
      process.stdout.write(`${r.notInFile} units in the database are not in the file (kept)\n`);
  } finally {
    await dataSource.destroy();
    await database.stop();
  }
  return 0;
}

runTool('units:import', main, {
  // What the database holds refuses the file (a unit moved to another province): nothing was imported.
  refusal: (e) => (e instanceof UnitsFileError ? { exitCode: 65, message: e.message } : undefined), // EX_DATAERR
});
