import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createTestDataSource } from '../test/support/database';
import { waitFor } from '../test/support/wait';
import { liveGrantSql } from '../src/break-glass/grant-ending';
import { EXPIRED_CONSENTS_SQL } from '../src/consents/consent-expiry.service';
import { realDifferences } from '../src/database/schema-drift';
import { referralListOrderSql } from '../src/referrals/referral-ending';
import { REPORT_COUNTS_SQL } from '../src/reports/reports.repository';
import type { EntityManager } from 'typeorm';
import { givenPrincipal } from '../test/support/principal';
import { defineAbilityFor } from '../src/authz/ability.factory';
import { accessibleBranches, accessibleWhere } from '../src/authz/sql-scope';
import { CASE_COLUMNS, CasesRepository } from '../src/cases/cases.repository';
import type { BlindIndex } from '../src/crypto';
import { MIGRATIONS } from './index';
import { OrganizationsRetired1764000004000 } from './1764000004000-OrganizationsRetired';
import { REVERT_LOSES } from './revert-losses';

/** The province organisations of these tests belong to (Hà Nội, 01). */
async function withHanoi(dataSource: DataSource): Promise<void> {
  await dataSource.query(
    `INSERT INTO admin_units (code, level, kind, name_vi, name_en, full_name_vi, full_name_en)
     VALUES ('01', 'province', 'thanh_pho', 'Hà Nội', 'Ha Noi', 'Thành phố Hà Nội', 'Ha Noi City')
     ON CONFLICT DO NOTHING`,
  );
}

/** Reverts the migrations down to and including the one named `name…`; returns how many it reverted. */
async function revertThrough(dataSource: DataSource, name: string): Promise<number> {
  const index = MIGRATIONS.findIndex((m) => new m().name.startsWith(name));
  if (index < 0) throw new Error(`no migration ${name}`);
  const reverted = MIGRATIONS.length - index;
  for (let i = 0; i < reverted; i++) await dataSource.undoLastMigration({ transaction: 'each' });
  return reverted;
}

/** Reverts to before ReportIndexes and leaves what a cancelled concurrent build of its index does: the name, invalid. */
async function cancelledReportIndexBuild(dataSource: DataSource): Promise<void> {
  await revertThrough(dataSource, 'ReportIndexes');
  await dataSource.query(`CREATE INDEX cases_report_idx ON cases (province_code)`);
  await dataSource.query(
    `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.cases_report_idx'::regclass`,
  );
}

/** Whether ReportIndexes's index is valid, and its definition. */
async function reportIndex(dataSource: DataSource): Promise<{ valid: boolean; def: string }> {
  const [index] = await dataSource.query<{ valid: boolean; def: string }[]>(
    `SELECT i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i WHERE i.indexrelid = 'public.cases_report_idx'::regclass`,
  );
  return index;
}

/**
 * The schema of `public` as text, one line per object, sorted: columns, constraints, indexes, triggers,
 * functions, sequences, the privileges on each table, sequence and function and on the schema, and the default
 * privileges.
 */
async function schemaOf(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ line: string }[]>(
    `SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' '
            || coalesce(column_default, '') || ' ' || is_identity AS line
       FROM information_schema.columns WHERE table_schema = 'public'
     UNION ALL
     SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace
     UNION ALL
     SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
     UNION ALL
     SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
     UNION ALL
     SELECT 'function ' || pg_get_functiondef(p.oid) || ' ' || coalesce(p.proacl::text, '')
       FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
     UNION ALL
     SELECT 'relation ' || c.relkind::text || ' ' || c.relname || ' ' || coalesce(c.relacl::text, '')
       FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'S', 'v')
     UNION ALL
     SELECT 'schema public ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'public'
     UNION ALL
     SELECT 'default ' || d.defaclobjtype::text || ' ' || coalesce(d.defaclacl::text, '')
       FROM pg_default_acl d WHERE d.defaclnamespace = 'public'::regnamespace
     ORDER BY line`,
  );
  return rows.map((r) => r.line);
}

describe('migrations', () => {
  it('lists every migration file in migrations/index.ts, in timestamp order', () => {
    const files = readdirSync(__dirname)
      .filter((f) => /^\d{13}-.+\.ts$/.test(f))
      .sort();
    const names = MIGRATIONS.map((m) => new m().name);
    expect(names).toEqual(files.map((f) => f.replace(/^(\d{13})-(.+)\.ts$/, '$2$1')));
  });

  it('names what a revert loses for every migration whose down() drops a table or a column, and only those', () => {
    const dropping = readdirSync(__dirname)
      .filter((f) => /^\d{13}-.+\.ts$/.test(f))
      .filter((f) => {
        const text = readFileSync(join(__dirname, f), 'utf8');
        return /DROP (TABLE|COLUMN)/.test(text.slice(text.indexOf('async down(')));
      })
      .map((f) => f.replace(/^(\d{13})-(.+)\.ts$/, '$2$1'))
      .sort();
    expect(Object.keys(REVERT_LOSES).sort()).toEqual(dropping);
  });

  it('every migration reverts cleanly and re-applies (down then up) on a real database', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      const before = await schemaOf(dataSource);
      // (What the comparison below covers, for example: a guard's trigger and the log's privileges.)
      expect(before).toContainEqual(
        expect.stringMatching(/^trigger CREATE TRIGGER audit_checkpoints_generated_id /),
      );
      expect(before).toContainEqual(expect.stringMatching(/^relation r audit_events \{.*haven_app=ar\//));
      for (let i = 0; i < MIGRATIONS.length; i++) await dataSource.undoLastMigration({ transaction: 'each' });
      const left = await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM migrations');
      expect(left[0].n).toBe(0);
      const tables = await dataSource.query<{ t: string }[]>(
        `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations'`,
      );
      expect(tables).toEqual([]);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      expect(applied).toHaveLength(MIGRATIONS.length);
      // The same schema again, to the privileges: every down() undid its up() whole (a function, trigger or
      // grant left behind would show here, or make the up() fail).
      expect(await schemaOf(dataSource)).toEqual(before);
    } finally {
      await drop();
    }
  });

  it('reverts AccountsMadeInDemo on live data: an account made in the demo is no longer the demo’s', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      await dataSource.query(
        `INSERT INTO users (username, role, password_hash, demo_account, made_in_demo)
         VALUES ('made.in.demo', 'admin', 'x', true, true), ('seeded', 'admin', 'x', true, false)`,
      );
      const reverted = await revertThrough(dataSource, 'AccountsMadeInDemo');
      expect(await dataSource.query(`SELECT username, demo_account FROM users ORDER BY username`)).toEqual([
        { username: 'made.in.demo', demo_account: false },
        { username: 'seeded', demo_account: true },
      ]);
      expect(await dataSource.runMigrations({ transaction: 'each' })).toHaveLength(reverted);
    } finally {
      await drop();
    }
  });

  it('reverts on live data: referrals revoked for the newer causes keep them', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      // One revoked referral per newer cause, its references switched off (only the causes matter here).
      await dataSource.transaction(async (m) => {
        await m.query(`SET LOCAL session_replication_role = replica`);
        for (const cause of ['case_closed', 'organization_changed']) {
          await m.query(
            `INSERT INTO referrals (id, case_id, organization_id, consent_id, services, urgency, status, due_at,
                                    revoke_cause, revoked_at, created_by, case_province_code, case_ward_code,
                                    case_reported_at)
             VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), '{other}',
                     'routine', 'revoked', now(), $1, now(), gen_random_uuid(), '01', '00145', now())`,
            [cause],
          );
        }
      });
      const reverted = await revertThrough(dataSource, 'CaseEndsReferrals');
      const causes = await dataSource.query<{ c: string }[]>(
        `SELECT revoke_cause AS c FROM referrals ORDER BY 1`,
      );
      expect(causes.map((r) => r.c)).toEqual(['case_closed', 'organization_changed']);
      expect(await dataSource.runMigrations({ transaction: 'each' })).toHaveLength(reverted);
      // And a referral revoked for its retired organisation, across OrganizationsRetired's revert.
      await dataSource.query(
        `UPDATE referrals SET revoke_cause = 'organization_retired' WHERE revoke_cause = 'case_closed'`,
      );
      const again = await revertThrough(dataSource, 'OrganizationsRetired');
      // OrganizationsRetired alone leaves the CHECK not validated: its transaction holds referrals against reads
      // and must not scan it (RevokeCauseValidated, in a transaction of its own, does).
      const runner = dataSource.createQueryRunner();
      try {
        await new OrganizationsRetired1764000004000().up(runner);
        expect(
          await runner.query(
            `SELECT convalidated FROM pg_constraint WHERE conname = 'referrals_revoke_cause_check'`,
          ),
        ).toEqual([{ convalidated: false }]);
        await new OrganizationsRetired1764000004000().down(runner);
      } finally {
        await runner.release();
      }
      expect(
        (await dataSource.query<{ c: string }[]>(`SELECT revoke_cause AS c FROM referrals ORDER BY 1`)).map(
          (r) => r.c,
        ),
      ).toEqual(['organization_changed', 'organization_retired']);
      expect(await dataSource.runMigrations({ transaction: 'each' })).toHaveLength(again);
      // Added NOT VALID, validated by the migration after it (its own transaction, no lock against reads).
      expect(
        await dataSource.query(
          `SELECT convalidated FROM pg_constraint WHERE conname = 'referrals_revoke_cause_check'`,
        ),
      ).toEqual([{ convalidated: true }]);
    } finally {
      await drop();
    }
  });

  it('a case registered without its risk stops the revert of RiskNotAssessed until the risk is recorded', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      const [{ id: officer }] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO users (username, role, password_hash) VALUES ('ward.unassessed', 'admin', 'x') RETURNING id`,
      );
      const id = '00000000-0000-4000-8000-00000000d001';
      await dataSource.transaction(async (m) => {
        await m.query(`SET LOCAL session_replication_role = replica`); // references aside
        await m.query(
          `INSERT INTO cases (id, code, ward_code, province_code, status, reported_at, report_channel, risk_level,
                              survivor_sex, age_group, gbv_type, forms, created_by)
           VALUES ($1, 'HVT-R', '00145', '01', 'open', now(), 'walk_in', NULL, 'female', '18-59',
                   'physical_assault', '{physical}', $2)`,
          [id, officer],
        );
      });
      await expect(revertThrough(dataSource, 'RiskNotAssessed')).rejects.toThrow(
        /1 cases have no risk recorded/,
      );
      // Nothing reverted: the column still takes null.
      expect(
        (await dataSource.query(`SELECT risk_level FROM cases WHERE id = $1`, [id]))[0].risk_level,
      ).toBeNull();
      await dataSource.query(`UPDATE cases SET risk_level = 'medium' WHERE id = $1`, [id]);
      expect(await revertThrough(dataSource, 'RiskNotAssessed')).toBeGreaterThan(0);
      expect(await dataSource.runMigrations({ transaction: 'each' })).not.toHaveLength(0);
    } finally {
      await drop();
    }
  });

  it('closes the cases shredded while open before shredding closed them, by their shredder, and only those', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      await revertThrough(dataSource, 'ShreddedCasesClosed');
      const [{ id: admin }] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO users (username, role, password_hash) VALUES ('admin.shredder', 'admin', 'x') RETURNING id`,
      );
      const [shredded, open, closed] = [1, 2, 3].map((i) => `00000000-0000-4000-8000-00000000c00${i}`);
      await dataSource.transaction(async (m) => {
        await m.query(`SET LOCAL session_replication_role = replica`); // references aside
        for (const [id, code, shreddedAt, closedAt] of [
          [shredded, 'HVT-1', `now() - interval '2 days'`, 'NULL'],
          [open, 'HVT-2', 'NULL', 'NULL'],
          [closed, 'HVT-3', `now() - interval '1 day'`, `now() - interval '3 days'`],
        ]) {
          await m.query(
            `INSERT INTO cases (id, code, ward_code, province_code, status, reported_at, report_channel, risk_level,
                                survivor_sex, age_group, gbv_type, forms, created_by, shredded_at, closed_at)
             VALUES ($1, $2, '00145', '01', ${closedAt === 'NULL' ? `'open'` : `'closed'`}, now(), 'walk_in',
                     'low', 'female', '18-59', 'physical_assault', '{physical}', $3, ${shreddedAt}, ${closedAt})`,
            [id, code, admin],
          );
        }
        await m.query(
          `INSERT INTO audit_events (seq, stripe, prev_seq, at, actor_id, actor_role, action, resource_type,
                                     resource_id, case_id, outcome, mac)
           VALUES (1000001, 0, 0, now(), $1, 'admin', 'case.shred', 'case', $2, $2, 'allowed', $3)`,
          [admin, shredded, Buffer.alloc(32)],
        );
      });
      await dataSource.runMigrations({ transaction: 'each' });
      const rows = await dataSource.query(
        `SELECT id, status, closed_at = shredded_at AS at_shred, closed_by FROM cases ORDER BY id`,
      );
      expect(rows).toEqual([
        { id: shredded, status: 'closed', at_shred: true, closed_by: admin },
        { id: open, status: 'open', at_shred: null, closed_by: null },
        { id: closed, status: 'closed', at_shred: false, closed_by: null },
      ]);
    } finally {
      await drop();
    }
  });

  it('clears the incident date and contexts of cases shredded before a shred cleared them, and only theirs', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      await revertThrough(dataSource, 'ShreddedFactsCleared');
      const [{ id: admin }] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO users (username, role, password_hash) VALUES ('admin.facts', 'admin', 'x') RETURNING id`,
      );
      const [shredded, kept] = [1, 2].map((i) => `00000000-0000-4000-8000-00000000d00${i}`);
      await dataSource.transaction(async (m) => {
        await m.query(`SET LOCAL session_replication_role = replica`); // references aside
        for (const [id, code, shreddedAt] of [
          [shredded, 'HVT-11', `now() - interval '2 days'`],
          [kept, 'HVT-12', 'NULL'],
        ]) {
          await m.query(
            `INSERT INTO cases (id, code, ward_code, province_code, status, reported_at, report_channel, risk_level,
                                survivor_sex, age_group, gbv_type, forms, contexts, incident_date, created_by,
                                shredded_at, closed_at, closed_by)
             VALUES ($1, $2, '00145', '01', 'closed', now(), 'walk_in', 'low', 'female', '18-59',
                     'physical_assault', '{physical}', '{intimate_partner}', '2026-11-01', $3, ${shreddedAt},
                     now() - interval '2 days', $3)`,
            [id, code, admin],
          );
        }
      });
      await dataSource.runMigrations({ transaction: 'each' });
      expect(
        await dataSource.query(`SELECT id, contexts, incident_date::text AS d FROM cases ORDER BY id`),
      ).toEqual([
        { id: shredded, contexts: [], d: null },
        { id: kept, contexts: ['intimate_partner'], d: '2026-11-01' },
      ]);
    } finally {
      await drop();
    }
  });

  it('keys the organisations there are by their names, and stops on two that now have the same one', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      await revertThrough(dataSource, 'OrganizationNameKey');
      await withHanoi(dataSource);
      const insert = (name: string) =>
        dataSource.query<{ id: string }[]>(
          `INSERT INTO organizations (name, sector, province_code, service_scope)
           VALUES ($1, 'legal', '01', 'province') RETURNING id`,
          [name],
        );
      // Two names the old index took for different ones (C-locale lower() folds A-Z only).
      const [[first], [second]] = [await insert('Đội Thử Nghiệm'), await insert('ĐỘI THỬ NGHIỆM')];
      await expect(dataSource.runMigrations({ transaction: 'each' })).rejects.toThrow(
        new RegExp(`same name in one province.*${first.id} and ${second.id}|${second.id} and ${first.id}`),
      );
      await dataSource.query(`UPDATE organizations SET name = 'Đội Thử Nghiệm Hai' WHERE id = $1`, [
        second.id,
      ]);
      await dataSource.runMigrations({ transaction: 'each' });
      const keys = await dataSource.query(
        `SELECT name_key FROM organizations WHERE id = ANY($1) ORDER BY 1`,
        [[first.id, second.id]],
      );
      expect(keys).toEqual([{ name_key: 'đội thử nghiệm' }, { name_key: 'đội thử nghiệm hai' }]);
      await expect(insert('đội   thử nghiệm')).resolves.toHaveLength(1); // a row without its key: lower(name)
    } finally {
      await drop();
    }
  });

  it('keys organisation names by their spellings too, stopping on two of one province that now have the same name', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      await revertThrough(dataSource, 'OrganizationNameSpellings');
      await withHanoi(dataSource);
      // Rows as the previous version keyed them (composed, lower case, spaces collapsed).
      const insert = (name: string, retired = false) =>
        dataSource.query<{ id: string }[]>(
          `INSERT INTO organizations (name, sector, province_code, service_scope, name_key, retired_at)
           VALUES ($1, 'health', '01', 'province', lower($1), $2) RETURNING id`,
          [name, retired ? new Date() : null],
        );
      const [[typed], [copied], [thuy], [retired]] = [
        await insert('Trạm y tế Yên Hòa'),
        await insert('Trạm y tế Yên Hoà'),
        await insert('Trạm y tế Thủy\u200b Nguyên'),
        // A retired organisation its successor (above) spells otherwise: it holds no name, and stops nothing.
        await insert('Trạm y tế Thuỷ Nguyên', true),
      ];
      await expect(dataSource.runMigrations({ transaction: 'each' })).rejects.toThrow(
        new RegExp(`same name in one province.*(${typed.id} and ${copied.id}|${copied.id} and ${typed.id})`),
      );
      await dataSource.query(
        `UPDATE organizations SET name = 'Trạm y tế Yên Hoà 2', name_key = NULL WHERE id = $1`,
        [copied.id],
      );
      await dataSource.runMigrations({ transaction: 'each' });
      const keys = () =>
        dataSource.query<{ name_key: string }[]>(
          `SELECT name_key FROM organizations WHERE id = ANY($1) ORDER BY name_key`,
          [[typed.id, copied.id, thuy.id, retired.id]],
        );
      expect(await keys()).toEqual([
        { name_key: 'trạm y tế thuỷ nguyên' },
        { name_key: 'trạm y tế thuỷ nguyên' },
        { name_key: 'trạm y tế yên hoà' },
        { name_key: 'trạm y tế yên hoà 2' },
      ]);
      // Taken back, each is keyed as before.
      await revertThrough(dataSource, 'OrganizationNameSpellings');
      expect(await keys()).toEqual([
        { name_key: 'trạm y tế thuỷ nguyên' },
        { name_key: 'trạm y tế thủy\u200b nguyên' },
        { name_key: 'trạm y tế yên hoà 2' },
        { name_key: 'trạm y tế yên hòa' },
      ]);
    } finally {
      await drop();
    }
  });

  it("a retired organisation's name is free for an active one; reverting that stops while two share a name", async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      await withHanoi(dataSource);
      const insert = (retired: boolean) =>
        dataSource.query<{ id: string }[]>(
          `INSERT INTO organizations (name, sector, province_code, service_scope, name_key, retired_at)
           VALUES ('Đội thử kế nhiệm', 'legal', '01', 'province', 'đội thử kế nhiệm', $1) RETURNING id`,
          [retired ? new Date() : null],
        );
      const [[retired], [active]] = [await insert(true), await insert(false)];
      await expect(insert(false)).rejects.toThrow(/organizations_province_name_key/);
      // The later migrations taken back first, then this one, which stops.
      await revertThrough(dataSource, 'OrganizationNameSpellings');
      await expect(dataSource.undoLastMigration({ transaction: 'each' })).rejects.toThrow(
        new RegExp(
          `share a name in one province: (${retired.id} and ${active.id}|${active.id} and ${retired.id})`,
        ),
      );
      await dataSource.query(
        `UPDATE organizations SET name = 'Đội thử (cũ)', name_key = 'đội thử (cũ)' WHERE id = $1`,
        [retired.id],
      );
      await dataSource.undoLastMigration({ transaction: 'each' });
      // Every name unique again, retired or not.
      await expect(
        dataSource.query(`UPDATE organizations SET name_key = 'đội thử kế nhiệm' WHERE id = $1`, [
          retired.id,
        ]),
      ).rejects.toThrow(/organizations_province_name_key/);
    } finally {
      await drop();
    }
  });

  it('an index left invalid by a failed concurrent build is built again, not skipped', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      await cancelledReportIndexBuild(dataSource);
      await dataSource.runMigrations({ transaction: 'each' });
      const index = await reportIndex(dataSource);
      expect(index.valid).toBe(true);
      expect(index.def).toMatch(/\(province_code, reported_at\) INCLUDE/);
    } finally {
      await drop();
    }
  });

  it('an index still being built concurrently by hand is left to its build: the migration stops, saying so', async () => {
    const { dataSource, url, drop } = await createTestDataSource();
    const holder = new Client({ connectionString: url });
    const builder = new Client({ connectionString: url });
    await holder.connect();
    await builder.connect();
    try {
      await revertThrough(dataSource, 'ReportIndexes');
      // A concurrent build waits for the table's writers first: this one keeps it waiting, its index invalid.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE cases IN ROW EXCLUSIVE MODE');
      const build = builder.query(
        `CREATE INDEX CONCURRENTLY cases_report_idx ON cases (province_code, reported_at)`,
      );
      await waitFor(async () => {
        const rows = await dataSource.query(
          `SELECT 1 FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid
            WHERE c.relname = 'cases_report_idx'`,
        );
        return rows.length > 0;
      }, 10_000);
      await expect(dataSource.runMigrations({ transaction: 'each' })).rejects.toThrow(
        /index cases_report_idx is being built .*let it finish, then run the migrations again/,
      );
      // The build goes on and ends valid; then the migrations run.
      await holder.query('COMMIT');
      await build;
      await dataSource.runMigrations({ transaction: 'each' });
      expect((await reportIndex(dataSource)).valid).toBe(true);
    } finally {
      await holder.end();
      await builder.end();
      await drop();
    }
  });

  it('an invalid index whose table stays in use (a build this role cannot see) stops the migration after a few seconds', async () => {
    const { dataSource, url, drop } = await createTestDataSource();
    const holder = new Client({ connectionString: url });
    await holder.connect();
    try {
      await cancelledReportIndexBuild(dataSource);
      // Someone reads the table for as long as it likes: no progress row names the index.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE cases IN ACCESS SHARE MODE');
      await expect(dataSource.runMigrations({ transaction: 'each' })).rejects.toThrow(
        /index cases_report_idx is invalid and its table stayed in use for 5s/,
      );
      await holder.query('COMMIT');
      // Once the table is free, the invalid index is dropped and built again.
      await dataSource.runMigrations({ transaction: 'each' });
      expect((await reportIndex(dataSource)).valid).toBe(true);
    } finally {
      await holder.end();
      await drop();
    }
  });

  /** A manager that answers every query with no rows, and the statements sent to it (parameters included). */
  function recording(): { sent: [string, unknown[]][]; recorder: EntityManager } {
    const sent: [string, unknown[]][] = [];
    const recorder = {
      query: (sql: string, params: unknown[]) => {
        sent.push([sql, params]);
        return Promise.resolve([]);
      },
    } as unknown as EntityManager;
    return { sent, recorder };
  }

  /**
   * The plans (EXPLAIN, JSON) of `statements` with their parameters on a freshly migrated database, with scans
   * made expensive (bitmap scans too, unless `bitmapscan`): its empty tables would otherwise be scanned whatever their indexes.
   */
  async function plansOf(
    statements: [sql: string, params: unknown[]][],
    { bitmapscan = false }: { bitmapscan?: boolean } = {},
  ): Promise<string[]> {
    const { dataSource, drop } = await createTestDataSource();
    try {
      return await dataSource.transaction(async (m) => {
        await m.query(`SET LOCAL enable_seqscan = off`);
        if (!bitmapscan) await m.query(`SET LOCAL enable_bitmapscan = off`);
        const plans: string[] = [];
        for (const [sql, params] of statements) {
          plans.push(JSON.stringify(await m.query(`EXPLAIN (FORMAT JSON) ${sql}`, params)));
        }
        return plans;
      });
    } finally {
      await drop();
    }
  }

  it("an account's live emergency grants are found by their own index, not by a scan of all grants", async () => {
    // How UsersService ends an account's grants (lockLiveGrants, endGrants).
    const user = [randomUUID()];
    const plans = await plansOf([
      [
        `SELECT 1 FROM break_glass_grants g WHERE (g.user_id = $1) AND (${liveGrantSql('g')}) ORDER BY g.id FOR UPDATE`,
        user,
      ],
      [
        `UPDATE break_glass_grants g SET expires_at = now() WHERE g.user_id = $1 AND ${liveGrantSql('g')} RETURNING g.id`,
        user,
      ],
    ]);
    for (const p of plans) expect(p).toContain('"Index Name":"break_glass_grants_user_idx"');
  });

  it("a report reads its referrals from their covering index alone, their consents' ids included", async () => {
    const at = new Date().toISOString();
    const [plan] = await plansOf([[REPORT_COUNTS_SQL, [[at], [at], '01', null, at]]]);
    expect(plan).toMatch(/"Node Type":"Index Only Scan"[^{}]*"Index Name":"referrals_report_consents_idx"/);
  });

  it('the sweep of ended consents reads the live referrals whose consent has an expiry, not every consent that ever expired', async () => {
    const [plan] = await plansOf([[EXPIRED_CONSENTS_SQL, [100]]]);
    expect(plan).toContain('"Index Name":"referrals_consent_expiry_idx","Relation Name":"referrals"');
    // A consent is read by its id alone, for each referral found.
    expect(plan.match(/"Relation Name":"consents"/g)).toHaveLength(1);
    expect(plan).toContain('"Index Name":"consents_pkey","Relation Name":"consents"');
  });

  it("a police provider's case list reads its emergency grants by its user, and no other case: not every open case in the country", async () => {
    const userId = randomUUID();
    const organizationId = randomUUID();
    const police = defineAbilityFor(
      givenPrincipal({ role: 'provider', userId, organizationId, sector: 'police' }),
    );
    // The statement CasesRepository.list sends, as sent (parameters included).
    const { sent, recorder } = recording();
    const scope = accessibleBranches(police, 'read', 'Case', CASE_COLUMNS);
    await new CasesRepository().list(recorder, scope, 1, 20, { userId, organizationId });
    expect(sent).toHaveLength(1);
    const [plan] = await plansOf([sent[0]]);
    // Every read of `cases` is of the ones named (by a referral of the organisation, a grant of the user, the
    // page): none scans the table, or its primary key whole, filtering each case by its grants.
    const casesRead: { 'Node Type': string; 'Index Cond'?: string }[] = [];
    const walk = (node: { 'Relation Name'?: string; Plans?: object[] }): void => {
      if (node['Relation Name'] === 'cases') casesRead.push(node as (typeof casesRead)[number]);
      for (const child of node.Plans ?? []) walk(child);
    };
    walk((JSON.parse(plan) as { 'QUERY PLAN': { Plan: object }[] }[])[0]['QUERY PLAN'][0].Plan);
    expect(casesRead.length).toBeGreaterThanOrEqual(3);
    expect(casesRead.filter((n) => !n['Index Cond'])).toEqual([]);
    // The user's grants by their own index.
    expect(plan).toMatch(/"Index Name":"break_glass_grants_user_idx"[^{}]*"Index Cond":"\(\(user_id = ANY/);
  });

  it("a ward officer's search reads only its own communes' blind-index entries: no case elsewhere is fetched and dropped", async () => {
    const ward = defineAbilityFor(givenPrincipal({ role: 'ward_officer', wardCodes: ['00145', '00118'] }));
    const { sent, recorder } = recording();
    const probe = (n: number) => Buffer.from([n, n, n, n]) as unknown as BlindIndex;
    // A registration's duplicate warning (name and date, name of an unknown date, phone), and a search by date.
    await new CasesRepository().searchByBlindIndex(
      recorder,
      accessibleWhere(ward, 'read', 'Case', CASE_COLUMNS),
      { name: probe(1), nameDob: probe(2), phone: probe(3) },
      { unknownBirthMatches: true },
    );
    await new CasesRepository().searchByBlindIndex(
      recorder,
      accessibleWhere(ward, 'read', 'Case', CASE_COLUMNS),
      {
        dob: probe(4),
      },
    );
    // Bitmap scans allowed: a search ORs its indexes.
    for (const plan of await plansOf(sent, { bitmapscan: true })) {
      const reads: {
        'Node Type': string;
        'Relation Name'?: string;
        'Index Name'?: string;
        'Index Cond'?: string;
      }[] = [];
      const walk = (node: (typeof reads)[number] & { Plans?: object[] }): void => {
        reads.push(node);
        for (const child of (node.Plans ?? []) as (typeof node)[]) walk(child);
      };
      walk(
        (JSON.parse(plan) as { 'QUERY PLAN': { Plan: (typeof reads)[number] }[] }[])[0]['QUERY PLAN'][0].Plan,
      );
      const casesIndexes = reads.filter((n) => n['Index Name']?.startsWith('cases_'));
      expect(casesIndexes.length).toBeGreaterThan(0);
      for (const read of casesIndexes) {
        expect(read['Index Name']).toMatch(/^cases_ward_bi_/);
        expect(read['Index Cond']).toMatch(/ward_code/);
      }
      expect(reads.filter((n) => n['Relation Name'] === 'cases' && n['Node Type'] === 'Seq Scan')).toEqual(
        [],
      );
    }
  });

  it("a provider's inbox is read in its index's order, pending then accepted then ended: no sort of the organisation's referrals", async () => {
    const [plan] = await plansOf([
      [
        `SELECT r.id FROM referrals r WHERE r.organization_id = $1
          ORDER BY ${referralListOrderSql('r')} LIMIT 20`,
        [randomUUID()],
      ],
    ]);
    expect(plan).toContain('"Index Name":"referrals_org_order_idx"');
    expect(plan).not.toContain('"Node Type":"Sort"');
  });

  it("every function of the schema runs with a path of its own: no session's schema stands in for what a guard names", async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      const functions = await dataSource.query<{ name: string; config: string[] | null }[]>(
        `SELECT p.proname AS name, p.proconfig AS config FROM pg_proc p
          WHERE p.pronamespace = 'public'::regnamespace
            -- An extension's (pgcrypto's) are C and name nothing by path.
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
          ORDER BY 1`,
      );
      expect(functions.length).toBeGreaterThan(5);
      // pg_catalog first (named, or not named: then PostgreSQL searches it first), pg_temp last.
      const unpinned = functions.filter(
        (f) =>
          !f.config?.some((c) =>
            ['search_path=pg_catalog, public, pg_temp', 'search_path=public, pg_temp'].includes(c),
          ),
      );
      expect(unpinned).toEqual([]);
    } finally {
      await drop();
    }
  });

  // CHECK constraints, foreign keys and indexes are written in the migrations and not all mirrored in the
  // entities, so the generator would propose dropping them; every other difference is a real mismatch.
  it('the entities match the migrated schema (tables, columns, types, nullability)', async () => {
    const { dataSource, drop } = await createTestDataSource();
    try {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      const real = realDifferences(
        pending.upQueries.map((q) => q.query),
        pending.downQueries.map((q) => q.query),
      );
      expect(real).toEqual({ up: [], down: [] });
    } finally {
      await drop();
    }
  });
});
