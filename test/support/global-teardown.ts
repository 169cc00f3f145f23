import { rm } from 'node:fs/promises';
import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const pg = (globalThis as { __havenTestPg?: EmbeddedPostgres }).__havenTestPg;
  await pg?.stop();
  if (process.env.HAVEN_TEST_ROOT) await rm(process.env.HAVEN_TEST_ROOT, { recursive: true, force: true });
}
