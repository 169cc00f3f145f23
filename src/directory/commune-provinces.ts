import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AdminUnitsRepository } from './admin-units.repository';
import { UUID_PATTERN } from '../common/http/uuid-param';

/** How long a commune's province is trusted from memory (a commune added by an import is found at once). */
const COMMUNE_PROVINCE_TTL_MS = 5 * 60 * 1000;

/**
 * The province of each commune (admin_units, level `commune`), cached: asked on every registration and every
 * access-log entry. A units import (`npm run units:import`) never moves a commune (it refuses such a file); a
 * reorganisation migration that does shows within COMMUNE_PROVINCE_TTL_MS, so every instance is restarted after
 * it. Codes that are not communes are never cached, so a commune added by an import is found at once. One instance per service (DirectoryModule), shared by case registration and the access-log
 * writer.
 */
@Injectable()
export class CommuneProvinces {
  private readonly cache = new Map<string, { province: string; until: number }>();
  /** How long an answer is kept (COMMUNE_PROVINCE_TTL_MS; tests shorten it). */
  ttlMs = COMMUNE_PROVINCE_TTL_MS;
  /** The clock (tests replace it). */
  now: () => number = Date.now;

  constructor(private readonly units: AdminUnitsRepository) {}

  /** The province of each of `codes` that is a commune (codes that are not are absent from the map). */
  async lookup(manager: EntityManager, codes: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const now = this.now();
    const missing: string[] = [];
    for (const code of codes) {
      const hit = this.cache.get(code);
      if (hit && hit.until > now) out.set(code, hit.province);
      else missing.push(code);
    }
    for (const unit of await this.units.findByCodes(missing, manager)) {
      if (unit.level !== 'commune' || !unit.provinceCode) continue;
      this.cache.set(unit.code, { province: unit.provinceCode, until: now + this.ttlMs });
      out.set(unit.code, unit.provinceCode);
    }
    return out;
  }

  /** The province of one commune, or null when `code` is not a commune. */
  async provinceOf(manager: EntityManager, code: string): Promise<string | null> {
    return (await this.lookup(manager, [code])).get(code) ?? null;
  }
}

/** What a request names of where it would work (provincesNamed). */
export interface NamedPlaces {
  provinceCode?: unknown;
  communeCodes?: unknown;
  organizationId?: unknown;
}

/** What a request to make an account names of where it would work, read as it came. */
export function newAccountNames(body: unknown): NamedPlaces {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  return { provinceCode: b.provinceCode, communeCodes: b.wardCodes, organizationId: b.organizationId };
}

/**
 * What a request to make an organisation names of where it would work (its service area's province or communes),
 * read as it came: nothing else the area carries (a stray organisation id would place the request elsewhere).
 */
export function newOrganizationNames(body: unknown): NamedPlaces {
  const area =
    typeof body === 'object' && body !== null ? (body as { serviceArea?: unknown }).serviceArea : null;
  if (typeof area !== 'object' || area === null) return {};
  const a = area as Record<string, unknown>;
  return { provinceCode: a.provinceCode, communeCodes: a.communeCodes };
}

/**
 * The provinces a request to make an account or an organisation names, those that exist: its province when it is
 * one, its communes', its organisation's. Of a refused request, read as it came (a route's refusal reads the raw
 * body): a value of any other shape, an unknown code or id, counts for none. One statement, no cache.
 */
export async function provincesNamed(manager: EntityManager, named: NamedPlaces): Promise<string[]> {
  const communes = Array.isArray(named.communeCodes)
    ? named.communeCodes.filter((c): c is string => typeof c === 'string')
    : [];
  const province = typeof named.provinceCode === 'string' ? named.provinceCode : null;
  const organization =
    typeof named.organizationId === 'string' && UUID_PATTERN.test(named.organizationId)
      ? named.organizationId
      : null;
  const rows = await manager.query<{ province_code: string }[]>(
    `SELECT a.province_code FROM admin_units a
      WHERE a.level = 'commune' AND a.code = ANY($1::text[]) AND a.province_code IS NOT NULL
     UNION
     SELECT a.code FROM admin_units a WHERE a.level = 'province' AND a.code = $2
     UNION
     SELECT o.province_code FROM organizations o WHERE o.id = $3::uuid
     ORDER BY 1`,
    [communes, province, organization],
  );
  return rows.map((r) => r.province_code);
}
