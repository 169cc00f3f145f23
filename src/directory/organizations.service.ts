import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { endGrants, lockLiveGrants } from '../break-glass/grant-ending';
import { lockLiveReferrals, revokeReferrals } from '../referrals/referral-ending';
import type { AppAbility } from '../authz/ability.factory';
import type { Principal } from '../authz/principal';
import { accessibleWhere } from '../authz/sql-scope';
import type { OrganizationSubject } from '../authz/subjects';
import { DomainError, FieldError, fieldError } from '../common/errors/domain-error';
import { sameSet } from '../common/same-set';
import { isUniqueViolation } from '../database/pg-errors';
import { holdAdministrator } from '../identity/session-hold';
import { AdminUnitsRepository } from './admin-units.repository';
import { newOrganizationNames, provincesNamed } from './commune-provinces';
import {
  CreateOrganizationDto,
  OrganizationList,
  ORGANIZATION_PAGE_SIZE,
  OrganizationListQuery,
  OrganizationView,
  ServiceAreaDto,
  UpdateOrganizationDto,
} from './dto/organization.dto';
import { Organization, ServiceScope } from './organization.entity';
import { ORGANIZATION_COLUMNS, OrganizationsRepository, servesCommuneSql } from './organizations.repository';
import { unreadableName } from '../common/text/readable-name';
import { ORGANIZATION_NAME_MAX, organizationName } from './organization-name';
import { pageOffset } from '../database/page-limit';

interface ResolvedArea {
  scope: ServiceScope;
  provinceCode: string;
  communeCodes: string[];
}

/** What an organisation update changed, as the access log's `organization.update` entries say it. */
export type OrganizationChange =
  | 'organization.renamed'
  | 'organization.sector_changed'
  | 'organization.area_changed'
  | 'organization.retired'
  | 'organization.reinstated';

/**
 * Organisations: the referral targets, each with a sector and a service area. A creation and each kind of
 * change are on the access log in the transaction that makes them, in the organisation's province (both, when
 * its area moves): its sector decides which categories of an accepted case its providers see, so a change of
 * sector widens or narrows what they read.
 */
@Injectable()
export class OrganizationsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly organizations: OrganizationsRepository,
    private readonly units: AdminUnitsRepository,
    private readonly audit: AuditService,
  ) {}

  async list(query: OrganizationListQuery, ability: AppAbility): Promise<OrganizationList> {
    const scope = accessibleWhere(ability, 'read', 'Organization', ORGANIZATION_COLUMNS);
    const page = query.page ?? 1;
    const pageSize = query.pageSize ?? ORGANIZATION_PAGE_SIZE;
    const { items, total } = await this.organizations.list({
      sector: query.sector,
      wardCode: query.wardCode,
      status: query.status ?? 'active',
      scope,
      offset: pageOffset(page, pageSize),
      limit: pageSize,
    });
    return { items: await this.views(items), total, page, pageSize };
  }

  async get(id: string, ability: AppAbility): Promise<OrganizationView> {
    const org = await this.organizations.findById(id);
    if (!org || !ability.can('read', subjectOf(org))) throw new DomainError('resource.not_found');
    return (await this.views([org]))[0];
  }

  /**
   * A refusal (a name taken in the province, an unknown unit, not allowed) is on record too, as
   * `organization.create` denied with the error's code as its reason, in the province(s) the area named.
   */
  create(dto: CreateOrganizationDto, caller: Principal, ability: AppAbility): Promise<OrganizationView> {
    return this.audit.refusalsOnRecord(
      caller,
      async () => ({
        action: 'organization.create',
        resourceType: 'organization',
        subjectProvinces: await provincesNamed(this.dataSource.manager, newOrganizationNames(dto)),
      }),
      () => this.createOrganization(dto, caller, ability),
    );
  }

  private async createOrganization(
    dto: CreateOrganizationDto,
    caller: Principal,
    ability: AppAbility,
  ): Promise<OrganizationView> {
    const area = await this.resolveArea(dto.serviceArea);
    const subject: OrganizationSubject = {
      kind: 'Organization',
      provinceCode: area.provinceCode,
      sector: dto.sector,
    };
    if (!ability.can('create', subject)) throw new DomainError('auth.forbidden');
    const saved = await this.write(caller, async (manager) => {
      const org = await this.organizations.save(
        {
          name: checkedName(dto.name),
          sector: dto.sector,
          provinceCode: area.provinceCode,
          serviceScope: area.scope,
        },
        manager,
      );
      await this.organizations.replaceCommunes(org.id, area.communeCodes, manager);
      await this.audit.record(manager, caller, {
        action: 'organization.create',
        resourceType: 'organization',
        resourceId: org.id,
        subjectProvinces: [org.provinceCode],
      });
      return org;
    });
    return (await this.views([saved]))[0];
  }

  /**
   * A refusal (no such organisation, a name taken, an unknown unit) is on record too, in the organisation's
   * province as a change is: its supervisors see an attempt on it.
   */
  update(
    id: string,
    dto: UpdateOrganizationDto,
    caller: Principal,
    ability: AppAbility,
  ): Promise<OrganizationView> {
    return this.audit.refusalsOnRecord(
      caller,
      async () => {
        const org = await this.organizations.findById(id);
        return {
          action: 'organization.update',
          resourceType: 'organization',
          resourceId: id,
          subjectProvinces: org ? [org.provinceCode] : [],
        };
      },
      () => this.updateOrganization(id, dto, caller, ability),
    );
  }

  private async updateOrganization(
    id: string,
    dto: UpdateOrganizationDto,
    caller: Principal,
    ability: AppAbility,
  ): Promise<OrganizationView> {
    const saved = await this.write(caller, async (manager) => {
      // One change at a time: two area changes at once left an organisation serving two provinces.
      const org = await this.organizations.findById(id, manager, 'lock');
      if (!org || !ability.can('update', subjectOf(org))) throw new DomainError('resource.not_found');
      const provinces = [org.provinceCode];
      const made: OrganizationChange[] = [];
      // The name it has, sent back with another change, is no new name: one stored before names were checked
      // (an invisible character) is not refused for it.
      const name =
        dto.name === undefined || organizationName(dto.name) === org.name ? undefined : checkedName(dto.name);
      if (name !== undefined) {
        org.name = name;
        made.push('organization.renamed');
      }
      if (dto.sector !== undefined && dto.sector !== org.sector) {
        org.sector = dto.sector;
        made.push('organization.sector_changed');
      }
      if (dto.serviceArea !== undefined) {
        const area = await this.resolveArea(dto.serviceArea, manager);
        const served = (await this.organizations.communesOf([org.id], manager)).get(org.id) ?? [];
        const same =
          area.provinceCode === org.provinceCode &&
          area.scope === org.serviceScope &&
          sameSet(area.communeCodes, served);
        if (!same) {
          org.provinceCode = area.provinceCode;
          org.serviceScope = area.scope;
          await this.organizations.replaceCommunes(org.id, area.communeCodes, manager);
          provinces.push(area.provinceCode);
          made.push('organization.area_changed');
        }
      }
      if (dto.status !== undefined && dto.status !== (org.retiredAt ? 'retired' : 'active')) {
        // The database's clock, as every other time a referral's end is stamped with.
        org.retiredAt =
          dto.status === 'retired'
            ? (await manager.query<{ now: Date }[]>(`SELECT clock_timestamp() AS now`))[0].now
            : null;
        made.push(dto.status === 'retired' ? 'organization.retired' : 'organization.reinstated');
      }
      // The new values must be allowed too (an admin's rule has no condition today; a future one might).
      if (!ability.can('update', subjectOf(org))) throw new DomainError('auth.forbidden');
      const retired = made.includes('organization.retired');
      const ends =
        retired || made.includes('organization.sector_changed') || made.includes('organization.area_changed');
      if (ends) {
        // Every row this change may end is locked before the first access-log entry takes a stripe: a referral's
        // move or a grant's review takes its row first and a stripe then, and the other order could deadlock
        // with one of them on another instance.
        await lockLiveReferrals(manager, 'r.organization_id = $1', [org.id]);
        await lockLiveGrants(manager, 'g.organization_id = $1', [org.id]);
      }
      const updated = await this.organizations.save(org, manager);
      if (ends) {
        const cause = retired ? 'organization_retired' : 'organization_changed';
        // Retired (closed or merged away): nobody answers its referrals any more, and every live one ends, so
        // that the ward sees it revoked and refers elsewhere instead of an emergency waiting out its deadline.
        // Otherwise a consent given to a sector covers that sector's organisations serving the case's commune:
        // one whose sector changed, or which no longer serves the commune, loses the referrals such a consent gave
        // it (a consent naming it keeps them). Read after the save: the new sector and area.
        await revokeReferrals(
          manager,
          this.audit,
          retired
            ? 'r.organization_id = $1'
            : `r.organization_id = $1 AND EXISTS (SELECT 1 FROM consents cs
                 WHERE cs.id = r.consent_id AND cs.sector IS NOT NULL
                   AND (cs.sector <> $2 OR ${noLongerServesSql('r', 'c')}))`,
          retired ? [org.id] : [org.id, org.sector],
          cause,
          caller,
        );
        // Emergency access opened by the staff of an organisation now closed, or under its old sector, ends now;
        // after a change of its area alone, only where it no longer serves the case's commune (a commune added
        // ends no one's emergency access in the middle of an emergency). Read after the save: the new area.
        const areaOnly = !retired && !made.includes('organization.sector_changed');
        await endGrants(
          manager,
          this.audit,
          areaOnly ? `g.organization_id = $1 AND ${noLongerServesSql('g', 'g')}` : 'g.organization_id = $1',
          [org.id],
          cause,
          caller,
        );
      }
      await this.audit.recordChanges(
        manager,
        caller,
        {
          action: 'organization.update',
          resourceType: 'organization',
          resourceId: org.id,
          subjectProvinces: provinces,
        },
        made,
      );
      return updated;
    });
    // After the commit: a request of its staff meanwhile may have cached the old province again.
    this.audit.forgetOrganization(saved.id);
    return (await this.views([saved]))[0];
  }

  /**
   * `work` in a transaction that first holds the caller's session (holdAdministrator): an administrator
   * disabled or reset since its request came changes nothing (401).
   */
  private async write<T>(caller: Principal, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        await holdAdministrator(manager, caller);
        return work(manager);
      });
    } catch (e) {
      if (isUniqueViolation(e, 'organizations_province_name_key'))
        throw new DomainError('organization.name_taken');
      throw e;
    }
  }

  /** A service area is a whole province, or communes that exist and all belong to one province. */
  private async resolveArea(area: ServiceAreaDto, manager?: EntityManager): Promise<ResolvedArea> {
    const hasProvince = area.provinceCode !== undefined;
    const hasCommunes = area.communeCodes !== undefined;
    if (hasProvince === hasCommunes) {
      throw invalid('serviceArea', 'exactlyOne', {
        en: 'give either provinceCode or communeCodes',
        vi: 'cần có provinceCode hoặc communeCodes (chỉ một)',
      });
    }
    if (hasProvince) {
      const [unit] = await this.units.findByCodes([area.provinceCode!], manager);
      if (!unit || unit.level !== 'province') {
        throw invalid('serviceArea.provinceCode', 'unknownProvince', {
          en: 'is not a known province',
          vi: 'không phải là mã tỉnh/thành phố hợp lệ',
        });
      }
      return { scope: 'province', provinceCode: unit.code, communeCodes: [] };
    }
    const codes = [...new Set(area.communeCodes)].sort();
    const units = await this.units.findByCodes(codes, manager);
    const communes = units.filter((u) => u.level === 'commune');
    if (communes.length !== codes.length) {
      throw invalid('serviceArea.communeCodes', 'unknownCommune', {
        en: 'contains a code that is not a known commune',
        vi: 'có mã không phải là đơn vị hành chính cấp xã hợp lệ',
      });
    }
    const provinces = new Set(communes.map((u) => u.provinceCode));
    if (provinces.size !== 1) {
      throw invalid('serviceArea.communeCodes', 'oneProvince', {
        en: 'must all belong to one province',
        vi: 'phải thuộc cùng một tỉnh/thành phố',
      });
    }
    return { scope: 'communes', provinceCode: [...provinces][0]!, communeCodes: codes };
  }

  private async views(orgs: Organization[]): Promise<OrganizationView[]> {
    const communes = await this.organizations.communesOf(
      orgs.filter((o) => o.serviceScope === 'communes').map((o) => o.id),
    );
    return orgs.map((o) => ({
      id: o.id,
      name: o.name,
      sector: o.sector,
      serviceArea:
        o.serviceScope === 'province'
          ? { type: 'province', provinceCode: o.provinceCode }
          : { type: 'communes', provinceCode: o.provinceCode, communeCodes: communes.get(o.id) ?? [] },
      status: o.retiredAt ? 'retired' : 'active',
      retiredAt: o.retiredAt?.toISOString() ?? null,
    }));
  }
}

export function subjectOf(o: Organization): OrganizationSubject {
  return { kind: 'Organization', id: o.id, provinceCode: o.provinceCode, sector: o.sector };
}

function invalid(field: string, code: string, message: FieldError['message']): DomainError {
  return new DomainError('unprocessable', undefined, [{ field, code, message }]);
}

/**
 * SQL true when the organisation of row `holder` (a referral or a grant: its organization_id) does not serve, as it
 * now stands, the commune of row `place` (its province_code and ward_code: the case's, or the grant's own).
 */
function noLongerServesSql(holder: string, place: string): string {
  return `NOT EXISTS (SELECT 1 FROM organizations o
    WHERE o.id = ${holder}.organization_id AND ${servesCommuneSql('o', `${place}.province_code`, `${place}.ward_code`)})`;
}

/**
 * A name as stored (organizationName: composed, trimmed), one a person can read in a list (unreadableName: no
 * control or invisible character, a letter at least), no longer than the table allows in characters as
 * PostgreSQL counts them: the validator's count passes some longer ones (it leaves out emoji variation
 * selectors), which the table's CHECK then refused as a 500.
 */
function checkedName(name: string): string {
  const stored = organizationName(name);
  const unreadable = unreadableName(stored);
  if (unreadable) throw fieldError('name', unreadable.en, unreadable.vi);
  if ([...stored].length > ORGANIZATION_NAME_MAX) {
    throw fieldError(
      'name',
      `is longer than ${ORGANIZATION_NAME_MAX} characters`,
      `dài hơn ${ORGANIZATION_NAME_MAX} ký tự`,
    );
  }
  return stored;
}
