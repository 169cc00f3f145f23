import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { AppModule } from '../app.module';
import { DomainError } from '../common/errors/domain-error';
import { ERROR_CATALOG } from '../common/errors/error-catalog';
import { createLogger } from '../common/logging/logger';
import { ConfigError, isMisconfiguration, loadConfig } from '../config/config';
import { assertExistingDataDir, toolDatabase } from './data-dir';
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
  return text.split(/\r?\n/)[0] ?? '';
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
  assertExistingDataDir(loaded, true);
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (isMisconfiguration(e)) {
      process.stderr.write(`${(e as Error).message}\nSee config/env.example.\n`);
      process.exit(78);
    }
    if (e instanceof DomainError) {
      const problems = e.errors?.map((f) => `${f.field} ${f.message.en}`).join('; ');
      const why = problems || (e.detail ?? ERROR_CATALOG[e.code].title).en;
      process.stderr.write(`users:create-admin refused: ${why}\n`);
      process.exit(65); // EX_DATAERR
    }
    process.stderr.write(`users:create-admin failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
