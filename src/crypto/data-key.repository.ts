import type { DataSource, EntityManager } from 'typeorm';
import type { GatedWrite } from '../database/gated-write';
import { CryptoError } from './crypto.errors';
import type { DataKeyOwner, KekRef } from './crypto.types';

export interface DataKeyRow {
  readonly ownerType: string;
  readonly ownerId: string;
  readonly dekId: string;
  readonly kekId: string;
  readonly kekVersion: number;
  /** Null once destroyed. */
  readonly wrappedDek: Buffer | null;
  readonly createdAt: Date;
  readonly rotatedAt: Date | null;
  readonly destroyedAt: Date | null;
}

export interface RewrappedKey {
  readonly owner: DataKeyOwner;
  /** The KEK version the row must still be on (a concurrent change makes the update a no-op). */
  readonly from: KekRef;
  readonly wrappedDek: Buffer;
}

interface RawRow {
  owner_type: string;
  owner_id: string;
  dek_id: string;
  kek_id: string;
  kek_version: number;
  wrapped_dek: Buffer | null;
  created_at: Date;
  rotated_at: Date | null;
  destroyed_at: Date | null;
}

const COLUMNS = `owner_type, owner_id, dek_id, kek_id, kek_version, wrapped_dek, created_at, rotated_at, destroyed_at`;

/**
 * The columns of a `data_keys` row joined under `alias`, named `dk_*`: for a read that fetches a row's
 * ciphertexts and their key in one statement (see joinedDataKeyRow).
 */
export function joinedDataKeyColumns(alias: string): string {
  return COLUMNS.split(', ')
    .map((c) => `${alias}.${c} AS dk_${c}`)
    .join(', ');
}

/** The data key of a row selected with joinedDataKeyColumns; null when the join found none. */
export function joinedDataKeyRow(raw: Record<string, unknown>): DataKeyRow | null {
  if (raw.dk_owner_type === null || raw.dk_owner_type === undefined) return null;
  const own: Record<string, unknown> = {};
  for (const c of COLUMNS.split(', ')) own[c] = raw[`dk_${c}`];
  return toRow(own as unknown as RawRow);
}

/** A new data key as stored: wrapped by the KEK `kek`. */
export interface NewDataKeyRow {
  readonly owner: DataKeyOwner;
  readonly dekId: string;
  readonly kek: KekRef;
  readonly wrappedDek: Buffer;
}

/**
 * The insert of a new data key as a write gated on another part of the caller's statement (GatedWrite): the key
 * is stored only if that statement's condition holds. A second key for the owner fails the whole statement.
 */
export function gatedDataKeyInsert(row: NewDataKeyRow): GatedWrite {
  return (gate, p) =>
    `INSERT INTO data_keys (owner_type, owner_id, dek_id, kek_id, kek_version, wrapped_dek)
     SELECT ${p(row.owner.ownerType, 'text')}, ${p(row.owner.ownerId, 'uuid')}, ${p(row.dekId, 'uuid')},
            ${p(row.kek.kekId, 'text')}, ${p(row.kek.version, 'integer')}, ${p(row.wrappedDek, 'bytea')}
       FROM ${gate}`;
}

/**
 * SQL: the 32-bit xid `xid` (numeric SQL) as an xid8 (numeric), placed in the epoch that keeps it within 2^31
 * of `xmax` (numeric SQL; a snapshot's xmax): a running transaction's xid always is, a little below xmax or
 * (given its id after the snapshot) a little above, possibly across an epoch boundary either way.
 */
export function widenXidSql(xmax: string, xid: string): string {
  return `(SELECT CASE WHEN c > m + 2147483648 THEN c - 4294967296
                      WHEN c < m - 2147483648 THEN c + 4294967296 ELSE c END
            FROM (SELECT m, m - mod(m, 4294967296) + (${xid}) AS c FROM (SELECT (${xmax}) AS m) AS mm) AS cc)`;
}

/** SQL over `s.snap` (a snapshot) and `a` (a pg_stat_activity row): the backend's xid as xid8 text. */
export const XID8_OF_BACKEND = `${widenXidSql('pg_snapshot_xmax(s.snap)::text::numeric', 'a.backend_xid::text::numeric')}::text`;

/**
 * Narrow queries on `data_keys` (raw SQL). Every method takes an optional EntityManager so that callers can
 * run it inside their own transaction; without one it uses the data source's pool.
 */
export class DataKeyRepository {
  constructor(private readonly dataSource: DataSource | null) {}

  get hasDatabase(): boolean {
    return this.dataSource !== null;
  }

  async insert(row: NewDataKeyRow, manager?: EntityManager): Promise<void> {
    // ON CONFLICT instead of a unique violation, so a duplicate does not abort the caller's transaction.
    const result: Array<{ n: number }> = await this.manager(manager).query(
      `WITH i AS (
         INSERT INTO data_keys (owner_type, owner_id, dek_id, kek_id, kek_version, wrapped_dek)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM i`,
      [row.owner.ownerType, row.owner.ownerId, row.dekId, row.kek.kekId, row.kek.version, row.wrappedDek],
    );
    if (result[0]?.n !== 1) {
      throw new CryptoError('crypto.invalid_input', `${row.owner.ownerType} already has a data key`);
    }
  }

  async find(owner: DataKeyOwner, manager?: EntityManager): Promise<DataKeyRow | null> {
    const rows: RawRow[] = await this.manager(manager).query(
      `SELECT ${COLUMNS} FROM data_keys WHERE owner_type = $1 AND owner_id = $2`,
      [owner.ownerType, owner.ownerId],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  async findMany(
    ownerType: string,
    ownerIds: readonly string[],
    manager?: EntityManager,
  ): Promise<DataKeyRow[]> {
    if (ownerIds.length === 0) return [];
    const rows: RawRow[] = await this.manager(manager).query(
      `SELECT ${COLUMNS} FROM data_keys WHERE owner_type = $1 AND owner_id = ANY($2::uuid[])`,
      [ownerType, ownerIds],
    );
    return rows.map(toRow);
  }

  /** Forgets the wrapped key and marks the row destroyed (the row stays as a tombstone). */
  async destroy(
    owner: DataKeyOwner,
    manager?: EntityManager,
  ): Promise<'destroyed' | 'already_destroyed' | 'not_found'> {
    const [r]: Array<{ destroyed: number; existing: number }> = await this.manager(manager).query(
      `WITH d AS (
         UPDATE data_keys SET wrapped_dek = NULL, destroyed_at = now()
         WHERE owner_type = $1 AND owner_id = $2 AND destroyed_at IS NULL
         RETURNING 1)
       SELECT (SELECT count(*) FROM d)::int AS destroyed,
              (SELECT count(*) FROM data_keys WHERE owner_type = $1 AND owner_id = $2)::int AS existing`,
      [owner.ownerType, owner.ownerId],
    );
    if (r.destroyed === 1) return 'destroyed';
    return r.existing === 1 ? 'already_destroyed' : 'not_found';
  }

  /** Live keys not yet wrapped by `target`. */
  async countNotOn(target: KekRef, manager?: EntityManager): Promise<number> {
    const [r]: Array<{ n: number }> = await this.manager(manager).query(
      `SELECT count(*)::int AS n FROM data_keys
       WHERE destroyed_at IS NULL AND (kek_id <> $1 OR kek_version <> $2)`,
      [target.kekId, target.version],
    );
    return r.n;
  }

  /**
   * The next batch of live keys not on `target`, after `after` in primary-key order, locked FOR UPDATE.
   * SKIP LOCKED: rows busy in another transaction are left for a later pass instead of blocking.
   */
  async lockBatchNotOn(
    target: KekRef,
    after: DataKeyOwner | null,
    limit: number,
    manager: EntityManager,
  ): Promise<DataKeyRow[]> {
    const params: unknown[] = [target.kekId, target.version, limit];
    let cursor = '';
    if (after) {
      params.push(after.ownerType, after.ownerId);
      cursor = `AND (owner_type, owner_id) > ($4::text, $5::uuid)`;
    }
    const rows: RawRow[] = await manager.query(
      `SELECT ${COLUMNS} FROM data_keys
       WHERE destroyed_at IS NULL AND (kek_id <> $1 OR kek_version <> $2) ${cursor}
       ORDER BY owner_type, owner_id
       LIMIT $3
       FOR UPDATE SKIP LOCKED`,
      params,
    );
    return rows.map(toRow);
  }

  /** Stores re-wrapped keys; returns how many rows changed. */
  async updateWrapped(
    keys: readonly RewrappedKey[],
    target: KekRef,
    manager: EntityManager,
  ): Promise<number> {
    if (keys.length === 0) return 0;
    const [r]: Array<{ n: number }> = await manager.query(
      `WITH v AS (
         SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::bytea[])
           AS v(owner_type, owner_id, old_kek_id, old_kek_version, wrapped_dek)),
       u AS (
         UPDATE data_keys d
         SET wrapped_dek = v.wrapped_dek, kek_id = $6, kek_version = $7, rotated_at = now()
         FROM v
         WHERE d.owner_type = v.owner_type AND d.owner_id = v.owner_id
           AND d.kek_id = v.old_kek_id AND d.kek_version = v.old_kek_version AND d.destroyed_at IS NULL
         RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      [
        keys.map((k) => k.owner.ownerType),
        keys.map((k) => k.owner.ownerId),
        keys.map((k) => k.from.kekId),
        keys.map((k) => k.from.version),
        keys.map((k) => k.wrappedDek),
        target.kekId,
        target.version,
      ],
    );
    return r.n;
  }

  /** The lowest version of `kekId` a data key may be wrapped with (`kek_floors`), or null when none is set. */
  async kekFloor(kekId: string, manager?: EntityManager): Promise<number | null> {
    const [r]: Array<{ min_version: number }> = await this.manager(manager).query(
      `SELECT min_version FROM kek_floors WHERE kek_id = $1`,
      [kekId],
    );
    return r?.min_version ?? null;
  }

  /**
   * The newest version of KEK `kekId` the database has taken up: its floor, or the newest version with a check
   * (registered by keys:rotate before it raises the floor), whichever is higher; null when it has neither (a
   * database no data key was made on yet).
   */
  async adoptedKekVersion(kekId: string, manager?: EntityManager): Promise<number | null> {
    const [r]: Array<{ v: number | null }> = await this.manager(manager).query(
      `SELECT greatest((SELECT min_version FROM kek_floors WHERE kek_id = $1),
                       (SELECT max(kek_version) FROM kek_checks WHERE kek_id = $1)) AS v`,
      [kekId],
    );
    return r?.v ?? null;
  }

  /** Milliseconds since the check of `kek` was registered (the database's clock), or null when there is none. */
  async kekCheckAgeMs(kek: KekRef): Promise<number | null> {
    const [r]: Array<{ ms: number }> = await this.manager().query(
      `SELECT (extract(epoch FROM clock_timestamp() - registered_at) * 1000)::float8 AS ms
         FROM kek_checks WHERE kek_id = $1 AND kek_version = $2`,
      [kek.kekId, kek.version],
    );
    return r ? r.ms : null;
  }

  /** The check of `kek` (`kek_checks`: a value wrapped with that version), or null when none is registered. */
  async kekCheck(kek: KekRef): Promise<Buffer | null> {
    const [r]: Array<{ wrapped_check: Buffer }> = await this.manager().query(
      `SELECT wrapped_check FROM kek_checks WHERE kek_id = $1 AND kek_version = $2`,
      [kek.kekId, kek.version],
    );
    return r?.wrapped_check ?? null;
  }

  /** Registers `wrapped` as the check of `kek` unless one is registered already; true when this one was. */
  async registerKekCheck(kek: KekRef, wrapped: Buffer): Promise<boolean> {
    const rows: unknown[] = await this.manager().query(
      `INSERT INTO kek_checks (kek_id, kek_version, wrapped_check) VALUES ($1, $2, $3)
       ON CONFLICT (kek_id, kek_version) DO NOTHING RETURNING 1`,
      [kek.kekId, kek.version, wrapped],
    );
    return rows.length > 0;
  }

  /** Up to `limit` live data keys wrapped with `kek` (any: the first the index gives). */
  async someLiveOn(kek: KekRef, limit: number): Promise<DataKeyRow[]> {
    const rows: RawRow[] = await this.manager().query(
      `SELECT ${COLUMNS} FROM data_keys
        WHERE kek_id = $1 AND kek_version = $2 AND destroyed_at IS NULL LIMIT $3`,
      [kek.kekId, kek.version, limit],
    );
    return rows.map(toRow);
  }

  /**
   * Raises the floor of `kek.kekId` to `kek.version` (never lowers it), then waits until every transaction that
   * was running when the floor committed has ended. The database's triggers read the floor after a writer's
   * rows are written, when its transaction has an id, so a key wrapped with an older version has landed (or
   * failed) by the time this returns, and a count of the keys made afterwards sees it. Transactions seen to run
   * in another database of the server are not waited for (they write no key of this one); one whose database
   * cannot be seen (another role's session, without pg_read_all_stats) is. Stops waiting early when `signal`
   * aborts: false then (a transaction from before the floor may still write a key under an older version).
   */
  async raiseKekFloor(kek: KekRef, signal?: AbortSignal, pollMs = 20): Promise<boolean> {
    const m = this.manager();
    await m.query(
      `INSERT INTO kek_floors AS f (kek_id, min_version) VALUES ($1, $2)
       ON CONFLICT (kek_id) DO UPDATE SET min_version = GREATEST(f.min_version, EXCLUDED.min_version),
                                          raised_at = now()`,
      [kek.kekId, kek.version],
    );
    // The transactions running now: those of the snapshot (below its xmax), and this database's backends that
    // have an xid, whose xid may be at or past the snapshot's xmax (one given its id while the floor committed,
    // which may have read the old floor). pg_stat_activity's backend_xid is 32-bit: compared through its low 32
    // bits, and widened with the snapshot's epoch (XID8_OF_BACKEND) to be waited for like the others.
    const running: Array<{ xid: string }> = await m.query(
      `WITH s AS (SELECT pg_current_snapshot() AS snap,
                         (SELECT oid FROM pg_database WHERE datname = current_database()) AS here)
       SELECT x::text AS xid FROM s, pg_snapshot_xip(s.snap) AS x
        WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                           WHERE a.backend_xid IS NOT NULL
                             AND a.backend_xid::text = (x::text::numeric % 4294967296)::text
                             AND a.datid <> s.here)
       UNION
       SELECT ${XID8_OF_BACKEND} FROM s, pg_stat_activity a
        WHERE a.datid = s.here AND a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()`,
    );
    let xids = running.map((r) => r.xid);
    while (xids.length > 0 && !signal?.aborted) {
      const still: Array<{ xid: string }> = await m.query(
        `SELECT x::text AS xid FROM unnest($1::xid8[]) AS x WHERE pg_xact_status(x) = 'in progress'`,
        [xids],
      );
      xids = still.map((r) => r.xid);
      if (xids.length > 0) await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    return xids.length === 0;
  }

  /** The live data key made last (null when there is none). */
  async newestLive(manager?: EntityManager): Promise<DataKeyRow | null> {
    const [r]: RawRow[] = await this.manager(manager).query(
      `SELECT ${COLUMNS} FROM data_keys WHERE destroyed_at IS NULL ORDER BY created_at DESC LIMIT 1`,
    );
    return r ? toRow(r) : null;
  }

  /** The KEK versions live (not destroyed) data keys are wrapped with, each with how many use it. */
  async liveKekVersionCounts(manager?: EntityManager): Promise<(KekRef & { keys: number })[]> {
    const rows: Array<{ kek_id: string; kek_version: number; keys: number }> = await this.manager(
      manager,
    ).query(
      `SELECT kek_id, kek_version, count(*)::int AS keys FROM data_keys WHERE destroyed_at IS NULL
        GROUP BY kek_id, kek_version ORDER BY kek_id, kek_version`,
    );
    return rows.map((r) => ({ kekId: r.kek_id, version: r.kek_version, keys: r.keys }));
  }

  private manager(manager?: EntityManager): EntityManager {
    const m = manager ?? this.dataSource?.manager;
    if (!m)
      throw new CryptoError(
        'crypto.config',
        'data keys need a database: no DataSource or EntityManager given',
      );
    return m;
  }
}

function toRow(r: RawRow): DataKeyRow {
  return {
    ownerType: r.owner_type,
    ownerId: r.owner_id,
    dekId: r.dek_id,
    kekId: r.kek_id,
    kekVersion: r.kek_version,
    wrappedDek: r.wrapped_dek,
    createdAt: r.created_at,
    rotatedAt: r.rotated_at,
    destroyedAt: r.destroyed_at,
  };
}
