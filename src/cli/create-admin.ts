import 'reflect-metadata';
import { runTool } from './run-tool';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { AppModule } from '../app.module';
import { DomainError } from '../common/errors/domain-error';
import { ERROR_CATALOG } from '../common/errors/error-catalog';
import { createLogger } from '../common/logging/logger';
import { ConfigError, loadConfig } from '../config/config';
import { assertExistingDataDir, toolDatabase } from './data-dir';
import { initialPassword } from './initial-password';
import { UsersService } from '../identity/users.service';

const USAGE = `usage: users:create-admin --username <name> < password-file

Creates the first administrator of an installation (refused while an active administrator exists). The
initial password is read from standard input (its first line), never from the command line; the account must
choose its own at its first sign-in and set up two-factor authentication. Uses the service's configuration
(HAVEN_DATA_DIR, DATABASE_URL / DATABASE_APP_URL, HAVEN_MASTER_KEY(_FILE)).
`;

async function readFirstLine(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new ConfigError(['the initial password is read from standard input: pipe it in (not typed here)']);
  }
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return initialPassword(text);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { username: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.username) {
    process.stderr.write(USAGE);
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
    const app = await NestFactory.createApplicationContext(
      AppModule.forRoot({ config, logger, databaseUrl: database.url }),
      { logger: false, abortOnError: false },
    );
    try {
      const admin = await app.get(UsersService).createFirstAdmin(values.username, password);
      process.stdout.write(
        `Created the administrator ${admin.username} (${admin.id}). At the first sign-in it must choose its own ` +
          'password and set up two-factor authentication.\n',
      );
      return 0;
    } finally {
      await app.close();
    }
  } finally {
    await database.stop();
  }
}

runTool('users:create-admin', () => main(process.argv.slice(2)), {
  refusal: (e) => {
    if (!(e instanceof DomainError)) return undefined;
    const problems = e.errors?.map((f) => `${f.field} ${f.message.en}`).join('; ');
    return { exitCode: 65, message: problems || (e.detail ?? ERROR_CATALOG[e.code].title).en }; // EX_DATAERR
  },
});
