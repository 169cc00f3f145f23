import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Writable } from 'node:stream';
import { createHavenApp } from '../../src/app.factory';
import { createLogger } from '../../src/common/logging/logger';
import { AppConfig, loadConfig } from '../../src/config/config';
import { createTestDatabase, TestDatabase } from './database';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  db: TestDatabase;
  /** Every log line the app wrote, as raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

/** Boots the whole application, exactly as main.ts builds it, on a database of its own. */
export async function startTestApp(
  env: Record<string, string> = {},
  extraImports: Parameters<typeof createHavenApp>[3] = [],
): Promise<TestApp> {
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'app-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    // The app runs as the restricted role production uses; migrations run as the owner (the superuser here).
    DATABASE_APP_URL: db.appUrl,
    HAVEN_DATA_DIR: dataDir,
    HAVEN_DB_POOL_SIZE: '5',
    LOG_LEVEL: 'info',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const app = await createHavenApp(config, logger, db.url, extraImports);
  return {
    app,
    config,
    db,
    logs,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}
