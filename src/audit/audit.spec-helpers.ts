// Shared by the access-log specs only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../test/support/database';
import { loadConfig } from '../config/config';
import { createCryptoServices, CryptoServices } from '../crypto';
import { dataSourceOptions } from '../database/data-source-options';
import { AdminUnitsRepository } from '../directory/admin-units.repository';
import { CommuneProvinces } from '../directory/commune-provinces';
import type { CheckpointFileReading } from './audit-checkpoint';
import { AuditCheckpointService } from './audit-checkpoint.service';
import { AccessLogVerification, verifyAccessLog } from './audit-verify';
import type { ParallelVerifyOptions } from './audit-verify-parallel';
import { AuditService } from './audit.service';
import type { AuditActor, AuditEntryInput } from './audit.types';

export interface AuditFixture {
  db: TestDatabase;
  /** As the restricted application role, the pool the service uses. */
  app: DataSource;
  /** As the superuser (schema owner). */
  owner: DataSource;
  crypto: CryptoServices;
  dataDir: string;
  audit: AuditService;
  checkpoints: AuditCheckpointService;
  /**
   * Verifies the log with the newest checkpoint of the file (as the API and the CLI do), or with the file and
   * off-host checkpoints given instead; with `parallel`, in that many worker threads first (connected as the
   * superuser, like the one-thread read).
   */
  verify(
    parallel?: Omit<ParallelVerifyOptions, 'connectionString'>,
    given?: { file?: CheckpointFileReading | null; offHost?: CheckpointFileReading[] },
  ): Promise<AccessLogVerification>;
  /** Runs SQL as the superuser with triggers disabled (session_replication_role = replica): a DBA tampering. */
  tamper(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export async function givenAuditLog(poolSize = 12): Promise<AuditFixture> {
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'audit-'));
  const app = await new DataSource(
    dataSourceOptions({ url: db.appUrl, poolSize, applicationName: 'haven-test-app' }),
  ).initialize();
  const owner = await new DataSource(
    dataSourceOptions({ url: db.url, poolSize: 2, applicationName: 'haven-test-owner' }),
  ).initialize();
  const crypto = await createCryptoServices({ dataDir, production: false });
  const config = loadConfig({ HAVEN_DATA_DIR: dataDir, HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0' });
  const checkpoints = new AuditCheckpointService(app, crypto.keys, config, pino({ level: 'silent' }));
  return {
    db,
    app,
    owner,
    crypto,
    dataDir,
    audit: new AuditService(app, crypto.keys, new CommuneProvinces(new AdminUnitsRepository(app))),
    checkpoints,
    verify: async (parallel, given) => {
      const client = new Client({ connectionString: db.url });
      await client.connect();
      try {
        return await verifyAccessLog(client, crypto.keys, {
          file: given ? (given.file ?? null) : checkpoints.file.read(),
          offHost: given?.offHost,
          parallel: parallel && { ...parallel, connectionString: db.url },
        });
      } finally {
        await client.end();
      }
    },
    tamper: async (sql, params = []) => {
      const client = new Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query('SET session_replication_role = replica');
        await client.query(sql, params);
      } finally {
        await client.end();
      }
    },
    close: async () => {
      await app.destroy();
      await owner.destroy();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const WARD_OFFICER: AuditActor = {
  userId: '6f1d3f4e-8c2a-4d5b-9e0f-1a2b3c4d5e6f',
  role: 'ward_officer',
  organizationId: null,
  wardCodes: ['00145'],
  provinceCode: null,
};

export const CASE_ID = '11111111-2222-4333-8444-555555555555';

/** A ward officer's read of CASE_ID (triage and identity), in Hà Nội commune 00145. */
export const CASE_READ: AuditEntryInput = {
  action: 'case.read',
  resourceType: 'case',
  resourceId: CASE_ID,
  caseId: CASE_ID,
  fields: ['triage', 'identity'],
  provinceCode: '01',
  wardCode: '00145',
};
