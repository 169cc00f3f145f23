import type { EntityManager } from 'typeorm';
import type { CommuneProvinces } from '../directory/commune-provinces';
import type { CheckedEntry } from './audit-entry.guard';

const ORG_TTL_MS = 5 * 60 * 1000;

/**
 * The provinces whose supervisors see an entry: the province of the resource (or of its commune), plus the
 * provinces of the actor (a ward officer's communes, a provider's organisation, a supervisor's province), plus
 * those of the account or organisation an administrative entry is about.
 * An entry with none (a sign-in on an unknown username, an admin, a national supervisor) is national only.
 * Communes and organisations rarely change province, so lookups are cached for 5 minutes; a provider's request
 * brings its organisation's province from its session (Principal.organizationProvince), and a sign-in's account
 * from its own look-up, so the cache serves only actors made without it.
 */
export class JurisdictionResolver {
  constructor(private readonly communes: CommuneProvinces) {}

  private readonly orgProvince = new Map<string, { province: string | null; until: number }>();

  /** An organisation moved: its next entries look its province up again (in this process; others within the TTL). */
  forgetOrganization(id: string): void {
    this.orgProvince.delete(id);
  }

  async provincesOf(manager: EntityManager, e: CheckedEntry): Promise<string[]> {
    const out = new Set<string>();
    if (e.provinceCode) out.add(e.provinceCode);
    if (e.actorProvince) out.add(e.actorProvince);
    for (const p of e.subjectProvinces) out.add(p);

    const communes = [...e.actorCommunes];
    if (e.communeCode && !e.provinceCode) communes.push(e.communeCode);
    if (communes.length) {
      for (const p of (await this.communes.lookup(manager, communes)).values()) out.add(p);
    }

    if (e.actorOrgId && e.actorOrgProvince) {
      // Read with the request's session: current on every instance, however recently the organisation moved.
      out.add(e.actorOrgProvince);
    } else if (e.actorOrgId) {
      const now = Date.now();
      let cached = this.orgProvince.get(e.actorOrgId);
      if (!cached || cached.until < now) {
        const rows = await manager.query<{ province_code: string }[]>(
          `SELECT province_code FROM organizations WHERE id = $1`,
          [e.actorOrgId],
        );
        cached = { province: rows[0]?.province_code ?? null, until: now + ORG_TTL_MS };
        this.orgProvince.set(e.actorOrgId, cached);
      }
      if (cached.province) out.add(cached.province);
    }
    return [...out].sort();
  }
}

/**
 * The provinces of the records a list showed, once each: the `subjectProvinces` of its entry (the guard takes
 * 64 at most, before it removes repeats: a page of 100 cases would otherwise be refused).
 */
export function provincesOf(rows: readonly { readonly provinceCode: string }[]): string[] {
  return [...new Set(rows.map((r) => r.provinceCode))];
}
