// Bulk seeding for the scale benchmark (issue 8, item 3): cases with consents and referrals, and access-log
// entries, written straight into PostgreSQL with COPY - but sealed, indexed and chained exactly as the
// service does it (the same keys, field encryption, blind indexes, canonical encoding and chain MAC), so the
// service reads the cases, finds them by blind index, and `npm run audit:verify` accepts the log.
//
// Everything generated is synthetic: names are "Người Thử Tải <n>", phones 09xxxxxxxx from the counter.
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AUDIT_EVENT_COLUMNS, auditEventValues, CanonicalEncoder } from '../../src/audit/audit-canonical';
import { AUDIT_STRIPES, AuditRow } from '../../src/audit/audit.types';
import {
  caseCode,
  deriveTriage,
  GbvType,
  incidentDateOf,
  Relationship,
  REPORT_CHANNELS,
  RISK_LEVELS,
  Sex,
  VIOLENCE_FORMS,
  vietnamYear,
} from '../../src/cases/case-classification';
import { blindIndexesOf, CASE_DERIVATIONS } from '../../src/cases/case-derivation';
import { CaseSections, sealSections } from '../../src/cases/case-sections';
import { CASE_OWNER } from '../../src/cases/cases.service';
import type { Sector } from '../../src/directory/organization.entity';
import { ageMisfit } from '../../src/consents/consent-age';
import {
  DEFAULT_RESPONSE_DEADLINES,
  referralDeadline,
  ReferralService,
  statutoryUrgency,
} from '../../src/referrals/referral-state';
import { type CryptoServices, DataKey, isCryptoError } from '../../src/crypto';
import { dekWrapContext } from '../../src/crypto/data-key';
import { kekCheckContext } from '../../src/crypto/kek-checks';
import { organizationNameKey } from '../../src/directory/organization-name';

export interface BulkSeedOptions {
  cases: number;
  auditEntries: number;
  /** Share of cases that get a consent and a referral. */
  referredShare?: number;
  /** Cases per COPY batch (20,000). */
  caseBatch?: number;
  /** Cases are reported over the `years` years up to `until`. */
  until?: Date;
  years?: number;
  log?: (line: string) => void;
}

export interface BulkSeedResult {
  cases: number;
  referrals: number;
  auditEntries: number;
  seconds: { cases: number; audit: number; analyze: number; total: number };
}

// Deterministic pseudo-random numbers (xorshift32): the same seed gives the same data set.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)];
}

/** COPY text format: `\N` for null, backslashes doubled (bytea goes as `\\x…`). */
export type CopyValue = string | number | boolean | Date | Buffer | readonly string[] | null | undefined;

function copyValue(v: CopyValue): string {
  if (v === null || v === undefined) return '\\N';
  if (Buffer.isBuffer(v)) return `\\\\x${v.toString('hex')}`;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return `{${v.join(',')}}`;
  return String(v);
}

/** Streams rows into `table` with COPY (text format). */
export async function copyRows(
  client: Client,
  table: string,
  columns: readonly string[],
  rows: Iterable<CopyValue[]>,
): Promise<void> {
  function* chunks(): Generator<string> {
    let buf: string[] = [];
    for (const row of rows) {
      buf.push(row.map(copyValue).join('\t'));
      if (buf.length >= 2000) {
        yield `${buf.join('\n')}\n`;
        buf = [];
      }
    }
    if (buf.length > 0) yield `${buf.join('\n')}\n`;
  }
  await pipeline(
    Readable.from(chunks()),
    client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)),
  );
}

// Weighted draws from the case vocabulary (a value listed twice comes up twice as often).
const SEXES: readonly Sex[] = ['female', 'female', 'female', 'female', 'male', 'other', 'unknown'];
const GBV_TYPES: readonly GbvType[] = [
  'rape',
  'sexual_assault',
  'physical_assault',
  'physical_assault',
  'forced_marriage',
  'denial_of_resources_opportunities_or_services',
  'psychological_emotional_abuse',
  'psychological_emotional_abuse',
];
const RELATIONSHIPS: readonly Relationship[] = [
  'spouse',
  'former_spouse',
  'intimate_partner',
  'parent',
  'acquaintance',
  'stranger',
];
// The synthetic organisations' sectors, each with the service a referral to it asks for.
const SERVICES = {
  police: 'police_protection',
  health: 'medical_care',
  social: 'psychosocial_support',
} satisfies Partial<Record<Sector, ReferralService>>;
const SECTORS = Object.keys(SERVICES) as (keyof typeof SERVICES)[];
const USER_AGENT = 'Mozilla/5.0 Chrome/131.0 Safari/537.36';

interface SeedUser {
  id: string;
  role: string;
  organization_id: string | null;
}

/** What an access-log entry of the seed records, apart from its place in the chain and its request. */
interface EntryWhat {
  actor: SeedUser;
  actorOrgId: string | null;
  actorCommunes: string[];
  action: string;
  resourceType: string;
  resourceId: string | null;
  caseId: string | null;
  fields: string[];
  outcome: 'allowed' | 'denied';
  reason: string | null;
  returnedIds: string[];
  /** Where it happened: the case's province and commune (a list has the province only). */
  place: { province: string; ward: string | null } | null;
}

/** Eight hex digits from the generator (request ids: cheaper than the system's random bytes, and repeatable). */
function hex32(r: () => number): string {
  return Math.floor(r() * 4294967296)
    .toString(16)
    .padStart(8, '0');
}

interface SeededCase {
  id: string;
  ward: string;
  province: string;
  referralId: string | null;
  orgId: string | null;
}

/**
 * Seeds `cases` cases (a share of them referred) and `auditEntries` access-log entries into a migrated
 * database that already has its administrative units and at least one account (the service's first start).
 * `client` connects as the schema owner. The service must not run meanwhile (the log is appended in bulk).
 */
export async function bulkSeed(
  client: Client,
  crypto: CryptoServices,
  options: BulkSeedOptions,
): Promise<BulkSeedResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const r = rng(20261123);
  const until = options.until ?? new Date();
  const years = options.years ?? 2;
  const span = years * 365 * 86400_000;
  const referredShare = options.referredShare ?? 0.6;

  await client.query(`SET synchronous_commit = off`);
  await client.query(`SET maintenance_work_mem = '256MB'`);

  const communes = (
    await client.query<{ code: string; province_code: string }>(
      `SELECT code, province_code FROM admin_units WHERE level = 'commune' ORDER BY code`,
    )
  ).rows;
  if (communes.length === 0) throw new Error('no communes: import the administrative units first');
  const users = (
    await client.query<SeedUser>(
      `SELECT id, role, organization_id FROM users WHERE status = 'active' ORDER BY username`,
    )
  ).rows;
  const ward = users.find((u) => u.role === 'ward_officer');
  const provider = users.find((u) => u.role === 'provider');
  if (!ward) throw new Error('no ward officer account: start the service once (demo data) first');

  // Case numbers continue each province's and year's counter.
  const counters = new Map<string, number>();
  for (const row of (
    await client.query<{ province_code: string; year: number; last_value: number }>(
      `SELECT province_code, year, last_value FROM case_sequences`,
    )
  ).rows) {
    counters.set(`${row.province_code}:${row.year}`, row.last_value);
  }

  const kek = await crypto.keyProvider.activeKek();
  // The keyring must hold the database's key under that version (kek_checks, docs/keys.md): data keys wrapped
  // with another would open nowhere else. A version without a check gets one with the service's next data key,
  // after it has opened these.
  const [check] = (
    await client.query<{ wrapped_check: Buffer }>(
      `SELECT wrapped_check FROM kek_checks WHERE kek_id = $1 AND kek_version = $2`,
      [kek.kekId, kek.version],
    )
  ).rows;
  if (check) {
    const opened = await crypto.keyProvider
      .unwrapDek(kek, check.wrapped_check, kekCheckContext(kek))
      // Another key's wrap fails its tag; any other failure is the provider's, and says so itself.
      .catch((e: unknown) => {
        if (isCryptoError(e, 'crypto.integrity')) return null;
        throw e;
      });
    if (!opened) {
      throw new Error(
        `this keyring's ${kek.kekId} v${kek.version} is another key than the database's (kek_checks): seed with the service's keyring`,
      );
    }
    opened.fill(0);
  }
  const seeded: SeededCase[] = [];
  const t0 = Date.now();
  const batch = options.caseBatch ?? 20_000;
  let referrals = 0;
  // One transaction: the tables' indexes that no constraint needs are built once after the load, as for the
  // access log, and a failure leaves nothing behind.
  await client.query('BEGIN');
  let copying: Promise<void> = Promise.resolve();
  try {
    // One organisation per sector and province (synthetic, clearly named), serving the whole province.
    const provinces = [...new Set(communes.map((c) => c.province_code))];
    const orgs = new Map<string, string>(); // `${province}:${sector}` → id
    for (const province of provinces) {
      for (const sector of SECTORS) {
        const name = `Tổ chức thử tải ${sector} ${province}`;
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO organizations (name, sector, province_code, service_scope, name_key)
           VALUES ($1, $2, $3, 'province', $4)
           ON CONFLICT (province_code, coalesce(name_key, lower(name))) WHERE retired_at IS NULL
           DO UPDATE SET sector = EXCLUDED.sector
           RETURNING id`,
          [name, sector, province, organizationNameKey(name)],
        );
        orgs.set(`${province}:${sector}`, rows[0].id);
      }
    }
    const rebuilds = [];
    for (const table of ['data_keys', 'cases', 'consents', 'referrals']) {
      rebuilds.push(await dropPlainIndexes(client, table));
    }
    for (let start = 0; start < options.cases; start += batch) {
      const n = Math.min(batch, options.cases - start);
      const keyRows: CopyValue[][] = [];
      const caseRows: CopyValue[][] = [];
      const consentRows: CopyValue[][] = [];
      const referralRows: CopyValue[][] = [];
      for (let i = 0; i < n; i++) {
        const serial = start + i + 1;
        const id = randomUUID();
        const commune = pick(r, communes);
        const reportedAt = new Date(until.getTime() - Math.floor(r() * span));
        // What follows a registration (consent, referral, its answer) happens by then at the latest: the
        // service writes its own clock, never a moment to come.
        const byThen = (ms: number) => new Date(Math.min(ms, until.getTime()));
        const year = vietnamYear(reportedAt);
        const counterKey = `${commune.province_code}:${year}`;
        const seq = (counters.get(counterKey) ?? 0) + 1;
        counters.set(counterKey, seq);
        const sex = pick(r, SEXES);
        const ageYears = Math.floor(r() * 70) + 3;
        const dob = new Date(
          reportedAt.getTime() - ageYears * 365.25 * 86400_000 - Math.floor(r() * 300) * 86400_000,
        );
        const dateOfBirth = dob.toISOString().slice(0, 10);
        const forms = VIOLENCE_FORMS.filter(() => r() < 0.4);
        if (forms.length === 0) forms.push('physical');
        const gbvType = pick(r, GBV_TYPES);
        const relationship = pick(r, RELATIONSHIPS);
        const occurredAt = new Date(reportedAt.getTime() - Math.floor(r() * 7) * 86400_000);
        // The incident's date in Vietnam, as a registration stores it and judges the child contexts at.
        const incidentDate = incidentDateOf(occurredAt.toISOString());
        const riskLevel = pick(r, RISK_LEVELS);
        const fullName = `Người Thử Tải ${serial}`;
        const phone = `09${String(serial).padStart(8, '0')}`;
        const sections: CaseSections = {
          identity: { fullName, dateOfBirth },
          contact: { phone, address: `Địa chỉ thử tải số ${serial}` },
          incident: {
            occurredAt: occurredAt.toISOString(),
            narrative: `Tường thuật thử tải số ${serial}, không có thông tin thật.`,
          },
          perpetrator: { fullName: `Người Gây Thử ${serial}`, relationship },
          ...(r() < 0.3 ? { health: { injuries: 'thương tích thử tải' } } : {}),
        };
        const derived = deriveTriage({
          dateOfBirth,
          reportedAt,
          incidentDate,
          relationship,
          forms: [...forms],
          gbvType,
        });
        const dekId = randomUUID();
        const dek = randomBytes(32);
        const owner = { ownerType: CASE_OWNER, ownerId: id };
        const wrapped = await crypto.keyProvider.wrapDek(kek, dek, dekWrapContext(owner, dekId, kek));
        const key = new DataKey(owner, dekId, dek);
        const sealed = sealSections(crypto.fields, key, id, sections);
        const blind = blindIndexesOf(crypto.blindIndex, sections);
        const createdAt = reportedAt;
        keyRows.push([CASE_OWNER, id, dekId, kek.kekId, kek.version, wrapped, createdAt]);
        caseRows.push([
          id,
          caseCode(commune.province_code, year, seq),
          commune.code,
          commune.province_code,
          reportedAt,
          pick(r, REPORT_CHANNELS),
          riskLevel,
          sex,
          derived.ageGroup,
          derived.childVn,
          derived.childGbvims,
          gbvType,
          forms,
          derived.contexts,
          incidentDate,
          sealed.identity ?? null,
          sealed.contact ?? null,
          sealed.incident ?? null,
          sealed.perpetrator ?? null,
          sealed.health ?? null,
          blind.name,
          blind.nameDob,
          blind.phone,
          blind.dob,
          CASE_DERIVATIONS, // derived as a registration does now: nothing for CaseRederivation to take
          ward.id,
          createdAt,
          ward.id,
          createdAt,
        ]);
        const c: SeededCase = {
          id,
          ward: commune.code,
          province: commune.province_code,
          referralId: null,
          orgId: null,
        };
        if (r() < referredShare) {
          const sector = pick(r, SECTORS);
          const orgId = orgs.get(`${commune.province_code}:${sector}`)!;
          const consentId = randomUUID();
          const referralId = randomUUID();
          const at = byThen(createdAt.getTime() + 3600_000);
          // A child under 16 does not consent alone (consent-age.ts): a guardian does, as the service asks.
          const givenBy = derived.childVn ? 'guardian' : 'survivor';
          if (ageMisfit({ givenBy }, derived)) throw new Error('a seeded consent the service would refuse');
          consentRows.push([consentId, id, orgId, ['identity', 'contact', 'incident'], givenBy, ward.id, at]);
          const services = [SERVICES[sector]];
          // Raised to the urgency the law leaves it, and due as the service would make it due.
          const { urgency, dueMinutes } = referralDeadline(
            pick(r, ['routine', 'urgent', 'urgent', 'emergency'] as const),
            statutoryUrgency({ childVn: derived.childVn, riskLevel }, services),
            DEFAULT_RESPONSE_DEADLINES,
          );
          const dueAt = new Date(at.getTime() + dueMinutes * 60_000);
          const roll = r();
          const status =
            roll < 0.15
              ? 'pending'
              : roll < 0.55
                ? 'accepted'
                : roll < 0.65
                  ? 'declined'
                  : roll < 0.95
                    ? 'completed'
                    : 'revoked';
          const acceptedAt =
            status === 'accepted' || status === 'completed'
              ? byThen(at.getTime() + Math.floor(r() * 48 * 3600_000))
              : null;
          // A decline and a revocation give their reason (required by the service), sealed as it seals them.
          const reason = (column: string) =>
            crypto.fields.encrypt(
              key,
              { table: 'referrals', column, rowId: referralId },
              `Lý do thử tải số ${serial}, không có thông tin thật.`,
            );
          referralRows.push([
            referralId,
            id,
            orgId,
            consentId,
            services,
            urgency,
            status,
            dueAt,
            status === 'completed' ? 'services_delivered' : null,
            status === 'revoked' ? 'ward' : null,
            acceptedAt,
            acceptedAt && provider ? provider.id : null,
            status === 'declined' ? byThen(at.getTime() + 7200_000) : null,
            status === 'completed' ? byThen(at.getTime() + 10 * 86400_000) : null,
            status === 'revoked' ? byThen(at.getTime() + 86400_000) : null,
            status === 'revoked' ? ward.id : null,
            status === 'declined' ? reason('enc_decline_reason') : null,
            status === 'revoked' ? reason('enc_revoke_reason') : null,
            ward.id,
            at,
            at,
          ]);
          c.referralId = referralId;
          c.orgId = orgId;
          referrals++;
        }
        key.wipe();
        seeded.push(c);
        // Now and then the event loop turns, so the batch being copied meanwhile keeps flowing to PostgreSQL.
        if (i % 64 === 63) await setImmediate();
      }
      // This batch is copied while the next one is built (the two cores: PostgreSQL and Node).
      await copying;
      const done = start + n;
      copying = copyCaseBatch(client, { keyRows, caseRows, consentRows, referralRows }).then(() =>
        log(`cases: ${done}/${options.cases} (${Math.round(done / ((Date.now() - t0) / 1000))}/s)`),
      );
      copying.catch(() => undefined); // awaited above or below; not an unhandled rejection meanwhile
    }
    await copying;
    for (const rebuild of rebuilds) await rebuild(log);
    for (const [k, last] of counters) {
      const [province, year] = k.split(':');
      await client.query(
        `INSERT INTO case_sequences (province_code, year, last_value) VALUES ($1, $2, $3)
       ON CONFLICT (province_code, year) DO UPDATE SET last_value = GREATEST(case_sequences.last_value, EXCLUDED.last_value)`,
        [province, Number(year), last],
      );
    }
    await client.query('COMMIT');
  } catch (e) {
    await copying.catch(() => undefined);
    await client.query('ROLLBACK');
    throw e;
  }
  // The cases and referrals vacuumed as autovacuum would have left them in a database that grew to this size
  // (it vacuums a table after inserts of 20 % of its rows): their visibility maps set, so that index-only scans
  // (the report's, the counts of case lists) need not visit the rows. Now, while they are still in memory:
  // after the access log, the same vacuum read them back from disk (5.6 minutes in one run).
  await client.query('VACUUM cases, referrals');
  const casesSeconds = (Date.now() - t0) / 1000;

  // The access log: entries continue each stripe's chain from its current head.
  const t1 = Date.now();
  const audited = await seedAccessLog(
    client,
    crypto,
    seeded,
    users,
    options.auditEntries,
    until,
    span,
    r,
    log,
  );
  const auditSeconds = (Date.now() - t1) / 1000;

  const t2 = Date.now();
  await client.query('ANALYZE');
  const analyzeSeconds = (Date.now() - t2) / 1000;
  return {
    cases: seeded.length,
    referrals,
    auditEntries: audited,
    seconds: {
      cases: casesSeconds,
      audit: auditSeconds,
      analyze: analyzeSeconds,
      total: (Date.now() - started) / 1000,
    },
  };
}

/** One batch of cases, with their data keys, consents and referrals. */
interface CaseBatch {
  keyRows: CopyValue[][];
  caseRows: CopyValue[][];
  consentRows: CopyValue[][];
  referralRows: CopyValue[][];
}

async function copyCaseBatch(
  client: Client,
  { keyRows, caseRows, consentRows, referralRows }: CaseBatch,
): Promise<void> {
  await copyRows(
    client,
    'data_keys',
    ['owner_type', 'owner_id', 'dek_id', 'kek_id', 'kek_version', 'wrapped_dek', 'created_at'],
    keyRows,
  );
  await copyRows(
    client,
    'cases',
    [
      'id',
      'code',
      'ward_code',
      'province_code',
      'reported_at',
      'report_channel',
      'risk_level',
      'survivor_sex',
      'age_group',
      'child_vn',
      'child_gbvims',
      'gbv_type',
      'forms',
      'contexts',
      'incident_date',
      'enc_identity',
      'enc_contact',
      'enc_incident',
      'enc_perpetrator',
      'enc_health',
      'bi_name',
      'bi_name_dob',
      'bi_phone',
      'bi_dob',
      'derived_with',
      'created_by',
      'created_at',
      'updated_by',
      'updated_at',
    ],
    caseRows,
  );
  await copyRows(
    client,
    'consents',
    ['id', 'case_id', 'organization_id', 'categories', 'given_by', 'created_by', 'created_at'],
    consentRows,
  );
  await copyRows(
    client,
    'referrals',
    [
      'id',
      'case_id',
      'organization_id',
      'consent_id',
      'services',
      'urgency',
      'status',
      'due_at',
      'outcome',
      'revoke_cause',
      'accepted_at',
      'accepted_by',
      'declined_at',
      'completed_at',
      'revoked_at',
      'revoked_by',
      'enc_decline_reason',
      'enc_revoke_reason',
      'created_by',
      'created_at',
      'updated_at',
    ],
    referralRows,
  );
}

async function seedAccessLog(
  client: Client,
  crypto: CryptoServices,
  cases: SeededCase[],
  users: SeedUser[],
  count: number,
  until: Date,
  span: number,
  r: () => number,
  log: (line: string) => void,
): Promise<number> {
  if (count === 0) return 0;
  await client.query('BEGIN');
  try {
    const ward = users.find((u) => u.role === 'ward_officer')!;
    const provider = users.find((u) => u.role === 'provider') ?? ward;
    const supervisor = users.find((u) => u.role === 'supervisor') ?? ward;
    // Appending in bulk: lock every stripe head, so nothing else writes the log meanwhile.
    const heads = (
      await client.query<{ stripe: number; last_seq: string; head: Buffer }>(
        `SELECT stripe, last_seq, head FROM audit_chain_heads ORDER BY stripe FOR UPDATE`,
      )
    ).rows.map((h) => ({ stripe: h.stripe, seq: Number(h.last_seq), mac: h.head }));
    if (heads.length !== AUDIT_STRIPES) throw new Error('unexpected number of chain stripes');
    const first = Number(
      (await client.query<{ n: string }>(`SELECT nextval('audit_events_seq') AS n`)).rows[0].n,
    );
    await client.query(`SELECT setval('audit_events_seq', $1)`, [first + count - 1]);

    const encoder = new CanonicalEncoder();
    const written = new Set<number>();
    const startAt = until.getTime() - span;
    const step = Math.max(1, Math.floor((span - 3600_000) / count));
    const t0 = Date.now();
    const batch = 200_000;
    // The log's secondary indexes are built once after the load (a sort each) instead of taking ten million
    // inserts in random places; the primary key (seq, appended in order) stays.
    const rebuild = await dropPlainIndexes(client, 'audit_events');
    for (let offset = 0; offset < count; offset += batch) {
      const n = Math.min(batch, count - offset);
      function* rows(): Generator<CopyValue[]> {
        for (let i = 0; i < n; i++) {
          const seq = first + offset + i;
          const stripe = seq % AUDIT_STRIPES;
          const c = cases.length > 0 ? cases[Math.floor(r() * cases.length)] : null;
          const roll = r();
          let what: EntryWhat;
          if (c && roll < 0.6) {
            what = {
              actor: ward,
              actorOrgId: null,
              actorCommunes: [c.ward],
              action: 'case.read',
              resourceType: 'case',
              resourceId: c.id,
              caseId: c.id,
              fields: ['triage', 'identity', 'contact', 'incident', 'perpetrator'],
              outcome: 'allowed',
              reason: null,
              returnedIds: [],
              place: c,
            };
          } else if (c && c.referralId && roll < 0.8) {
            what = {
              actor: provider,
              actorOrgId: c.orgId,
              actorCommunes: [],
              action: 'referral.read',
              resourceType: 'referral',
              resourceId: c.referralId,
              caseId: c.id,
              fields: ['triage', 'identity', 'contact', 'incident'],
              outcome: 'allowed',
              reason: null,
              returnedIds: [],
              place: c,
            };
          } else if (c && roll < 0.9) {
            const ids = Array.from({ length: 20 }, () => cases[Math.floor(r() * cases.length)].id);
            what = {
              actor: ward,
              actorOrgId: null,
              actorCommunes: [c.ward],
              action: 'case.list',
              resourceType: 'case',
              resourceId: null,
              caseId: null,
              fields: ['triage'],
              outcome: 'allowed',
              reason: null,
              returnedIds: ids,
              place: { province: c.province, ward: null },
            };
          } else if (c && roll < 0.97) {
            what = {
              actor: supervisor,
              actorOrgId: null,
              actorCommunes: [],
              action: 'case.read',
              resourceType: 'case',
              resourceId: c.id,
              caseId: c.id,
              fields: ['triage'],
              outcome: 'allowed',
              reason: null,
              returnedIds: [],
              place: c,
            };
          } else {
            const denied = r() < 0.3;
            what = {
              actor: ward,
              actorOrgId: null,
              actorCommunes: c ? [c.ward] : [],
              action: denied ? 'auth.login_failed' : 'auth.login',
              resourceType: 'session',
              resourceId: null,
              caseId: null,
              fields: [],
              outcome: denied ? 'denied' : 'allowed',
              reason: denied ? 'auth.invalid_credentials' : null,
              returnedIds: [],
              place: c,
            };
          }
          // One object literal with every field (no spread): built ten million times, it must keep one shape.
          const row: AuditRow = {
            seq,
            stripe,
            prevSeq: heads[stripe].seq,
            atMs: startAt + (offset + i) * step,
            actorId: what.actor.id,
            actorRole: what.actor.role,
            actorOrgId: what.actorOrgId,
            actorCommunes: what.actorCommunes,
            action: what.action,
            resourceType: what.resourceType,
            resourceId: what.resourceId,
            caseId: what.caseId,
            fields: what.fields,
            outcome: what.outcome,
            reason: what.reason,
            ip: `203.113.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`,
            userAgent: USER_AGENT,
            requestId: hex32(r) + hex32(r),
            returnedIds: what.returnedIds,
            provinceCode: what.place?.province ?? null,
            communeCode: what.place?.ward ?? null,
            jurisdictions: what.place ? [what.place.province] : [],
          };
          const mac = crypto.keys.auditChainMac(heads[stripe].mac, encoder.encode(row));
          heads[stripe] = { stripe, seq, mac };
          written.add(stripe);
          yield auditEventValues(row, mac);
        }
      }
      await copyRows(client, 'audit_events', AUDIT_EVENT_COLUMNS, rows());
      log(`access log: ${offset + n}/${count} (${Math.round((offset + n) / ((Date.now() - t0) / 1000))}/s)`);
    }
    await rebuild(log);
    // Only the stripes that got entries: a head may only move forward (fewer entries than stripes leave some).
    for (const stripe of [...written].sort((a, b) => a - b)) {
      const h = heads[stripe];
      await client.query(`UPDATE audit_chain_heads SET last_seq = $1, head = $2 WHERE stripe = $3`, [
        h.seq,
        h.mac,
        h.stripe,
      ]);
    }
    await client.query('COMMIT');
    return count;
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  }
}

/**
 * Drops `table`'s indexes that no constraint uses (in the caller's transaction: a rollback brings them back)
 * and returns what builds them again from their own definitions (pg_get_indexdef), so a later migration's
 * index is rebuilt too.
 */
async function dropPlainIndexes(
  client: Client,
  table: string,
): Promise<(log: (line: string) => void) => Promise<void>> {
  const { rows } = await client.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i
      WHERE i.indrelid = $1::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY 1`,
    [table],
  );
  for (const { name } of rows) await client.query(`DROP INDEX ${name}`);
  return async (log) => {
    const t0 = Date.now();
    await client.query(`SET LOCAL maintenance_work_mem = '1GB'`);
    for (const { def } of rows) await client.query(def);
    log(`${table}: ${rows.length} indexes built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
}
