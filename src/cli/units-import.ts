import 'reflect-metadata';
import { runTool } from './run-tool';
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/config';
import { dataSourceOptions } from '../database/data-source-options';
import { callerPath, connected, pendingMigrationsApplied, startToolDatabase } from './data-dir';
import { importUnits, parseUnitsFile, UnitsFileError } from '../directory/admin-unit-importer';

/**
 * `npm run units:import -- <file.json>`: loads the official administrative units into the database
 * (DATABASE_URL, or the embedded server under HAVEN_DATA_DIR - stop the service first). Safe to run again:
 * unchanged units are left alone.
 */
async function main(): Promise<number> {
  const [given, extra] = process.argv.slice(2);
  if (!given || extra !== undefined) {
    process.stderr.write('usage: units-import <units.json>\n');
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
    const r = await importUnits(dataSource, rows);
    const line = (name: string, c: { inserted: number; updated: number; unchanged: number }) =>
      `${name}: ${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged\n`;
    process.stdout.write(line('provinces', r.provinces) + line('communes', r.communes));
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
