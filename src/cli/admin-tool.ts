import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { AppModule } from '../app.module';
import { DomainError } from '../common/errors/domain-error';
import { ERROR_CATALOG } from '../common/errors/error-catalog';
import { createLogger } from '../common/logging/logger';
import { ConfigError, loadConfig } from '../config/config';
import { UsersService } from '../identity/users.service';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../database/data-source-options';
import { assertExistingDataDir, pendingMigrationsApplied, toolDatabase } from './data-dir';
import { firstLinePiped, initialPassword } from './initial-password';
import { runTool } from './run-tool';

/**
 * An operator's tool about one administrator account (`users:create-admin`, `users:reset-admin`): its
 * `--username`, a new password from standard input (never the command line), and the service's configuration
 * and database (the running server when the service is up). `act` does the work through UsersService and says
 * what it did; a refusal of the service (DomainError) exits 65 with its reason, a usage error 64.
 */
export function runAdminTool(
  name: string,
  usage: string,
  act: (users: UsersService, username: string, password: string) => Promise<string>,
): void {
  runTool(name, () => main(usage, act, process.argv.slice(2)), {
    refusal: (e) => {
      if (!(e instanceof DomainError)) return undefined;
      const problems = e.errors?.map((f) => `${f.field} ${f.message.en}`).join('; ');
      return { exitCode: 65, message: problems || (e.detail ?? ERROR_CATALOG[e.code].title).en }; // EX_DATAERR
    },
  });
}

async function main(
  usage: string,
  act: (users: UsersService, username: string, password: string) => Promise<string>,
  argv: string[],
): Promise<number> {
  let values: { username?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { username: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (e) {
    // A mistyped or unexpected argument is a usage error, as a missing --username is (README: exit 64). Not
    // echoed: an operator may have typed the password on the command line.
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`an unknown option or an unexpected argument (not shown)\n${usage}`);
      return 64; // EX_USAGE
    }
    throw e;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (!values.username) {
    process.stderr.write(usage);
    return 64; // EX_USAGE
  }
  const loaded = loadConfig();
  assertExistingDataDir(loaded, { keys: true, database: true });
  // Never the demo from here: on a database without units it would seed the demo's accounts and cases.
  const config = { ...loaded, demo: { ...loaded.demo, enabled: false } };
  const password = await readFirstLine();
  const logger = createLogger('warn');
  const database = await toolDatabase(config); // the running server when the service is up
  try {
    // Said here, not in the service's log line (this tool's logger shows warnings only).
    const owner = await new DataSource(
      dataSourceOptions({ url: database.url, poolSize: 2, applicationName: 'haven-admin-tool' }),
    ).initialize();
    try {
      await pendingMigrationsApplied(owner, config.database.allowNewerSchema);
    } finally {
      await owner.destroy();
    }
    const app = await NestFactory.createApplicationContext(
      AppModule.forRoot({ config, logger, databaseUrl: database.url }),
      { logger: false, abortOnError: false },
    );
    try {
      process.stdout.write(`${await act(app.get(UsersService), values.username, password)}\n`);
      return 0;
    } finally {
      await app.close();
    }
  } finally {
    await database.stop();
  }
}

async function readFirstLine(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new ConfigError(['the password is read from standard input: pipe it in (not typed here)']);
  }
  return initialPassword(await firstLinePiped(process.stdin));
}
