import 'reflect-metadata';
import { runTool } from './run-tool';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config';
import { dataSourceOptions } from '../database/data-source-options';
import { connected, databaseNamed, newerSchemaSaid, startToolDatabase, waitingSaid } from './data-dir';
import {
  appliedMigrations,
  assertSchemaOfThisBuild,
  lastMigrationName,
  revertLastMigrationLocked,
  runMigrationsLocked,
  unknownToBuild,
} from '../database/migrate';
import { realDifferences } from '../database/schema-drift';
import { REVERT_LOSES } from '../../migrations/revert-losses';

/**
 * Migration workflow (see README): `run`, `revert` (the last one), `show`, `generate <Name>` (writes the SQL
 * difference between the entities and the database into a new migration and lists it in migrations/index.ts)
 * and `create <Name>` (an empty one). Uses DATABASE_URL, or the embedded server under HAVEN_DATA_DIR.
 */
const USAGE = 'usage: migrations <run|revert [--yes <Name>]|show|generate <Name>|create <Name>>';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const yes = args.includes('--yes');
  const [command, name] = args.filter((a) => a !== '--yes');
  if (!command || !['run', 'revert', 'show', 'generate', 'create'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  if ((command === 'generate' || command === 'create') && !/^[A-Z][A-Za-z0-9]{2,60}$/.test(name ?? '')) {
    process.stderr.write(
      'The migration name must be PascalCase letters and digits, e.g. AddReferralIndexes\n',
    );
    return 64;
  }
  if (command === 'create') {
    await writeMigration(name, [], []);
    return 0;
  }

  const config = loadConfig();
  const database = await startToolDatabase(config);
  const dataSource = await connected(
    database,
    dataSourceOptions({ url: database.url, poolSize: 2, applicationName: 'haven-migrations' }),
  );
  try {
    switch (command) {
      case 'run': {
        const applied = await runMigrationsLocked(dataSource, waitingSaid);
        process.stdout.write(
          applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}\n` : 'up to date\n',
        );
        // Said, never refused: the operator migrating may be about to revert them.
        await assertSchemaOfThisBuild(dataSource, true, newerSchemaSaid);
        break;
      }
      case 'revert': {
        const last = await lastMigrationName(dataSource);
        const target = where(dataSource);
        if (last === null) {
          process.stdout.write(`nothing to revert on ${target}\n`);
          break;
        }
        // The confirmation names the migration it confirms (`--yes <Name>`): one applied after the operator was
        // shown the last (an instance starting meanwhile) is not reverted on a bare yes, its down() unseen.
        if (!yes || !name) {
          const loses = REVERT_LOSES[last];
          process.stderr.write(
            `This reverts ${last} on ${target} (${loses ? `it drops ${loses}` : 'it drops no table or column; what it undoes is in its file'}). ` +
              `Run again with --yes ${last} to do it.\n`,
          );
          return 64;
        }
        // Under the migration lock, and only the one named: checked again once the lock is held.
        const done = await revertLastMigrationLocked(dataSource, name, waitingSaid);
        if (!done) {
          process.stdout.write(`nothing to revert on ${target}\n`);
          break;
        }
        if (!done.reverted) {
          process.stderr.write(
            `The last migration on ${target} is ${done.name}, not the one named: nothing reverted. ` +
              'Run without --yes to see what it would revert.\n',
          );
          return 75;
        }
        process.stdout.write(`reverted ${done.name} on ${target}\n`);
        break;
      }
      case 'show': {
        const applied = await appliedMigrations(dataSource);
        const done = new Set(applied);
        for (const m of dataSource.migrations)
          process.stdout.write(`${done.has(m.name!) ? '[x]' : '[ ]'} ${m.name}\n`);
        for (const name of unknownToBuild(dataSource, applied))
          process.stdout.write(`[?] ${name} (applied, unknown to this build)\n`);
        break;
      }
      case 'generate': {
        const sql = await dataSource.driver.createSchemaBuilder().log();
        const { up, down } = realDifferences(
          sql.upQueries.map((q) => q.query),
          sql.downQueries.reverse().map((q) => q.query),
        );
        if (up.length === 0) {
          process.stdout.write('No changes: the entities match the database.\n');
          break;
        }
        await writeMigration(name, up, down);
        break;
      }
    }
  } finally {
    await dataSource.destroy();
    await database.stop();
  }
  return 0;
}

/** The database a command acts on, as an operator reads it (host, port and name; no password). */
function where(dataSource: DataSource): string {
  return databaseNamed((dataSource.options as { url: string }).url);
}

async function writeMigration(name: string, up: string[], down: string[]): Promise<void> {
  const timestamp = Date.now();
  const className = `${name}${timestamp}`;
  const dir = join(process.cwd(), 'migrations');
  const file = `${timestamp}-${name}`;
  const body = (queries: string[]): string =>
    queries.map((q) => `    await q.query(${JSON.stringify(q)});`).join('\n') ||
    '    // TODO: write the change';
  await writeFile(
    join(dir, `${file}.ts`),
    `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(q: QueryRunner): Promise<void> {
${body(up)}
  }

  async down(q: QueryRunner): Promise<void> {
${body(down)}
  }
}
`,
    { flag: 'wx' },
  );
  const indexPath = join(dir, 'index.ts');
  const index = await readFile(indexPath, 'utf8');
  const withImport = index.replace(/(\n\/\*\*)/, `import { ${className} } from './${file}';\n$1`);
  const withEntry = withImport.replace(/export const MIGRATIONS = \[([^\]]*)\];/, (_m, list: string) => {
    const items = list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .concat(className);
    return `export const MIGRATIONS = [\n  ${items.join(',\n  ')},\n];`;
  });
  await writeFile(indexPath, withEntry);
  process.stdout.write(
    `wrote migrations/${file}.ts and listed it in migrations/index.ts: review it by hand\n`,
  );
}

runTool('migrations', main);
