import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../common/errors/domain-error';
import type { SqlCondition } from '../authz/sql-scope';
import { Organization, Sector } from './organization.entity';
import { organizationNameKey } from './organization-name';

export interface OrganizationFilter {
  sector?: Sector;
  /** Only organisations serving this commune (its whole province, or the commune itself). */
  wardCode?: string;
  /** active: those that take referrals; retired; all. */
  status: 'active' | 'retired' | 'all';
  /** The caller's read scope over the alias `o` (sql-scope.ts). */
  scope: SqlCondition;
  offset: number;
  limit: number;
}

/** Column map for CASL conditions on Organization (alias `o`). */
export const ORGANIZATION_COLUMNS = {
  id: 'o.id',
  provinceCode: 'o.province_code',
  sector: 'o.sector',
} as const;

/**
 * SQL: whether organisation `alias` serves a commune (given as SQL, with its province): its whole province,
 * or the commune among its own. The referral form's list and emergency access decide it so.
 */
export function servesCommuneSql(alias: string, provinceSql: string, communeSql: string): string {
  return `((${alias}.service_scope = 'province' AND ${alias}.province_code = ${provinceSql})
    OR EXISTS (SELECT 1 FROM organization_communes oc
                WHERE oc.organization_id = ${alias}.id AND oc.commune_code = ${communeSql}))`;
}

/** A referral or consent naming an organisation that was retired (closed or merged away). */
export const RETIRED_ORGANIZATION = (): DomainError =>
  new DomainError('unprocessable', {
    en: 'This organisation is retired and takes no referrals; choose another.',
    vi: 'Tổ chức này đã ngừng hoạt động và không nhận chuyển gửi; hãy chọn tổ chức khác.',
  });

/**
 * Whether organisation `id` is retired, or null when there is none; share-locked until the caller's transaction
 * ends, so that what the caller makes naming it (a consent, an account) commits before a retirement can (which
 * waits for it; one that committed first is seen here and refuses it).
 */
export async function organizationRetired(m: EntityManager, id: string): Promise<boolean | null> {
  const [o] = await m.query<{ retired: boolean }[]>(
    `SELECT retired_at IS NOT NULL AS retired FROM organizations WHERE id = $1 FOR SHARE`,
    [id],
  );
  return o ? o.retired : null;
}

/**
 * Organisation `id` and whether it serves a commune (`wardCode` of `provinceCode`). With `lock` (in a
 * transaction), share-locked until it ends: a change of the organisation's sector or area (which ends what it no
 * longer covers: referrals of a sector's consent, emergency grants) waits for the caller to commit, and so ends
 * what the caller made too; one the caller waited for is seen whole. In two statements: one that waited for the
 * lock re-reads the organisation's row but would see its communes as they were before the change. Without
 * `lock`, the same question for a check before anything is locked.
 */
export async function organizationServing(
  m: EntityManager,
  id: string,
  provinceCode: string,
  wardCode: string,
  { lock }: { lock: boolean },
): Promise<{ id: string; name: string; sector: string; servesCase: boolean; retired: boolean } | null> {
  const [o] = await m.query<{ id: string; name: string; sector: string; retired: boolean }[]>(
    `SELECT o.id, o.name, o.sector, o.retired_at IS NOT NULL AS retired
       FROM organizations o WHERE o.id = $1${lock ? ' FOR SHARE OF o' : ''}`,
    [id],
  );
  if (!o) return null;
  const [{ serves }] = await m.query<{ serves: boolean }[]>(
    `SELECT ${servesCommuneSql('o', '$2', '$3')} AS serves FROM organizations o WHERE o.id = $1`,
    [id, provinceCode, wardCode],
  );
  return { ...o, servesCase: serves };
}

/** Narrow queries on organisations and the communes they serve. */
@Injectable()
export class OrganizationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(Organization);
  }

  /**
   * `lock`: held until the transaction ends (`manager` must be in one), so that changes come one at a time; FOR NO
   * KEY UPDATE, as CasesRepository.findById's, so that a note or a referral naming the organisation (its foreign
   * key's check) is not blocked by a change waiting for that referral.
   */
  findById(id: string, manager?: EntityManager, lock?: 'lock'): Promise<Organization | null> {
    return this.repo(manager).findOne({
      where: { id },
      ...(lock ? { lock: { mode: 'for_no_key_update' as const } } : {}),
    });
  }

  async list(filter: OrganizationFilter): Promise<{ items: Organization[]; total: number }> {
    const qb = this.repo()
      .createQueryBuilder('o')
      .where(filter.scope.sql, filter.scope.params)
      .orderBy('o.province_code', 'ASC')
      .addOrderBy('o.name', 'ASC')
      .addOrderBy('o.id', 'ASC')
      .offset(filter.offset)
      .limit(filter.limit);
    if (filter.sector) qb.andWhere('o.sector = :sector', { sector: filter.sector });
    if (filter.status !== 'all') {
      qb.andWhere(filter.status === 'active' ? 'o.retired_at IS NULL' : 'o.retired_at IS NOT NULL');
    }
    if (filter.wardCode) {
      qb.andWhere(
        servesCommuneSql(
          'o',
          '(SELECT au.province_code FROM admin_units au WHERE au.code = :wardCode)',
          ':wardCode',
        ),
        { wardCode: filter.wardCode },
      );
    }
    const [items, total] = await qb.getManyAndCount();
    return { items, total };
  }

  async communesOf(ids: readonly string[], manager?: EntityManager): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const rows = await (manager ?? this.dataSource.manager).query<
      { organization_id: string; commune_code: string }[]
    >(
      `SELECT organization_id, commune_code FROM organization_communes
        WHERE organization_id = ANY($1) ORDER BY commune_code`,
      [ids],
    );
    for (const r of rows) out.get(r.organization_id)?.push(r.commune_code);
    return out;
  }

  /** Saves `org`, its name's key with its name (organizationNameKey). */
  async save(org: Partial<Organization>, manager: EntityManager): Promise<Organization> {
    const repo = this.repo(manager);
    const keyed = org.name === undefined ? org : { ...org, nameKey: organizationNameKey(org.name) };
    return repo.save(repo.create(keyed));
  }

  async replaceCommunes(id: string, communeCodes: readonly string[], manager: EntityManager): Promise<void> {
    await manager.query(`DELETE FROM organization_communes WHERE organization_id = $1`, [id]);
    if (communeCodes.length) {
      await manager.query(
        `INSERT INTO organization_communes (organization_id, commune_code) SELECT $1, unnest($2::varchar[])`,
        [id, communeCodes],
      );
    }
  }
}
