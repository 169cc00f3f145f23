import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Sector } from '../directory/organization.entity';
import { Role, User, UserStatus } from './user.entity';
import { canonicalUsername } from './dto/user.dto';

/** What the access guard needs about the caller, loaded with one indexed query per request. */
export interface SessionRow {
  id: string;
  username: string;
  role: Role;
  status: UserStatus;
  tokenVersion: number;
  passwordChangeRequired: boolean;
  organizationId: string | null;
  sector: Sector | null;
  /** The province of its organisation (a provider's), as this session reads it. */
  organizationProvince: string | null;
  provinceCode: string | null;
  wardCodes: string[];
  revoked: boolean;
  demoAccount: boolean;
  madeInDemo: boolean;
  /** Its organisation (a provider's) is retired: its staff work no more, and their sessions end. */
  organizationRetired: boolean;
}

export interface UserListFilter {
  role?: Role;
  status?: UserStatus;
  /** SQL condition from the caller's ability (sql-scope.ts) over the alias `u`. */
  scope: { sql: string; params: Record<string, unknown> };
  offset: number;
  limit: number;
}

/** Narrow queries on users and their communes. */
/**
 * The provinces an account works in: its communes' (ward officer), its organisation's (provider) or its own
 * (supervisor; none when national). Its access-log entries about the account belong to their supervisors. A
 * plain function, so that the access guard can place a refusal without the identity module.
 */
export async function accountProvincesOf(manager: EntityManager, userId: string): Promise<string[]> {
  const rows = await manager.query<{ province_code: string }[]>(
    `SELECT u.province_code FROM users u WHERE u.id = $1 AND u.province_code IS NOT NULL
     UNION
     SELECT o.province_code FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.id = $1
     UNION
     SELECT a.province_code FROM user_communes uc JOIN admin_units a ON a.code = uc.commune_code
      WHERE uc.user_id = $1 AND a.province_code IS NOT NULL
     ORDER BY 1`,
    [userId],
  );
  return rows.map((r) => r.province_code);
}

@Injectable()
export class UsersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(User);
  }

  findById(id: string, manager?: EntityManager): Promise<User | null> {
    return this.repo(manager).findOneBy({ id });
  }

  /**
   * The active administrators' ids, in id order. A demo account counts only with `demoAccounts` (while the
   * demo runs: outside it those accounts are shut). `lock` takes their rows FOR NO KEY UPDATE, in that order.
   */
  activeAdminIds(
    opts: { demoAccounts: boolean; lock?: boolean },
    manager?: EntityManager,
  ): Promise<string[]> {
    return this.activeIds(`role = 'admin'`, opts, manager);
  }

  /** The active national supervisors' ids (no province), as activeAdminIds gives the administrators'. */
  activeNationalSupervisorIds(
    opts: { demoAccounts: boolean; lock?: boolean },
    manager?: EntityManager,
  ): Promise<string[]> {
    return this.activeIds(`role = 'supervisor' AND province_code IS NULL`, opts, manager);
  }

  private async activeIds(
    which: string,
    opts: { demoAccounts: boolean; lock?: boolean },
    manager?: EntityManager,
  ): Promise<string[]> {
    const rows = await (manager ?? this.dataSource.manager).query<{ id: string }[]>(
      `SELECT id FROM users WHERE ${which} AND status = 'active' AND (NOT demo_account OR $1)
        ORDER BY id${opts.lock ? ' FOR NO KEY UPDATE' : ''}`,
      [opts.demoAccounts],
    );
    return rows.map((r) => r.id);
  }

  findByUsername(username: string): Promise<User | null> {
    return this.repo().findOneBy({ username: canonicalUsername(username) });
  }

  /**
   * The account a sign-in names, and whether its organisation (a provider's) is retired, in one statement (the
   * sign-in checks both again, locked, as it commits).
   */
  async findForSignIn(username: string): Promise<{ user: User; organizationRetired: boolean } | null> {
    const { entities, raw } = await this.repo()
      .createQueryBuilder('u')
      .leftJoin('organizations', 'o', 'o.id = u.organization_id')
      .addSelect('o.retired_at IS NOT NULL', 'organization_retired')
      .where('u.username = :username', { username: canonicalUsername(username) })
      .getRawAndEntities<{ organization_retired: boolean }>();
    const user = entities[0];
    return user ? { user, organizationRetired: raw[0].organization_retired } : null;
  }

  async findSession(userId: string, jti: string): Promise<SessionRow | null> {
    const rows = await this.dataSource.query<SessionRow[]>(
      `SELECT u.id, u.username, u.role, u.status, u.token_version AS "tokenVersion",
              u.password_change_required AS "passwordChangeRequired",
              u.organization_id AS "organizationId", o.sector, o.province_code AS "organizationProvince",
              u.province_code AS "provinceCode",
              ARRAY(SELECT uc.commune_code FROM user_communes uc WHERE uc.user_id = u.id ORDER BY 1)::text[]
                AS "wardCodes",
              EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = $2) AS revoked,
              u.demo_account AS "demoAccount", u.made_in_demo AS "madeInDemo",
              o.retired_at IS NOT NULL AS "organizationRetired"
         FROM users u
         LEFT JOIN organizations o ON o.id = u.organization_id
        WHERE u.id = $1`,
      [userId, jti],
    );
    return rows[0] ?? null;
  }

  async wardCodesOf(userIds: readonly string[], manager?: EntityManager): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(userIds.map((id) => [id, []]));
    if (userIds.length === 0) return out;
    const rows = await (manager ?? this.dataSource.manager).query<
      { user_id: string; commune_code: string }[]
    >(`SELECT user_id, commune_code FROM user_communes WHERE user_id = ANY($1) ORDER BY commune_code`, [
      userIds,
    ]);
    for (const r of rows) out.get(r.user_id)?.push(r.commune_code);
    return out;
  }

  /**
   * Of `communes`, those no active ward officer serves (a demo account counts only with `demoAccounts`, as for
   * the last administrator), in code order.
   */
  async communesWithoutOfficer(
    communes: readonly string[],
    opts: { demoAccounts: boolean },
    manager?: EntityManager,
  ): Promise<string[]> {
    if (communes.length === 0) return [];
    const rows = await (manager ?? this.dataSource.manager).query<{ code: string }[]>(
      `SELECT c.code FROM unnest($1::text[]) AS c(code)
        WHERE NOT EXISTS (SELECT 1 FROM user_communes uc JOIN users u ON u.id = uc.user_id
                           WHERE uc.commune_code = c.code AND u.role = 'ward_officer' AND u.status = 'active'
                             AND (NOT u.demo_account OR $2))
        ORDER BY 1`,
      [communes, opts.demoAccounts],
    );
    return rows.map((r) => r.code);
  }

  async insert(user: Partial<User>, wardCodes: readonly string[], manager: EntityManager): Promise<User> {
    const saved = await manager.getRepository(User).save(manager.getRepository(User).create(user));
    await this.replaceWardCodes(saved.id, wardCodes, manager);
    return saved;
  }

  async replaceWardCodes(
    userId: string,
    wardCodes: readonly string[],
    manager: EntityManager,
  ): Promise<void> {
    await manager.query(`DELETE FROM user_communes WHERE user_id = $1`, [userId]);
    if (wardCodes.length) {
      await manager.query(
        `INSERT INTO user_communes (user_id, commune_code) SELECT $1, unnest($2::varchar[])`,
        [userId, wardCodes],
      );
    }
  }

  async update(id: string, changes: Partial<User>, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, changes);
  }

  async list(filter: UserListFilter): Promise<{ items: User[]; total: number }> {
    const qb = this.repo()
      .createQueryBuilder('u')
      .where(filter.scope.sql, filter.scope.params)
      .orderBy('u.username', 'ASC')
      .offset(filter.offset)
      .limit(filter.limit);
    if (filter.role) qb.andWhere('u.role = :role', { role: filter.role });
    if (filter.status) qb.andWhere('u.status = :status', { status: filter.status });
    const [items, total] = await qb.getManyAndCount();
    return { items, total };
  }
}
