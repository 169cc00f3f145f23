import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AdminUnitsRepository } from './admin-units.repository';

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

  /**
   * The provinces a request names, those that exist: its province when it is one, and its communes' (a refused
   * request's may name unknown codes, or values that are no code at all: they count for none).
   */
  async provincesNamed(
    manager: EntityManager,
    named: { provinceCode?: unknown; communeCodes?: unknown },
  ): Promise<Set<string>> {
    const out = new Set<string>();
    if (Array.isArray(named.communeCodes)) {
      const codes = named.communeCodes.filter((c): c is string => typeof c === 'string');
      for (const province of (await this.lookup(manager, codes)).values()) out.add(province);
    }
    if (typeof named.provinceCode === 'string') {
      const [unit] = await this.units.findByCodes([named.provinceCode], manager);
      if (unit?.level === 'province') out.add(unit.code);
    }
    return out;
  }

  /** The province of one commune, or null when `code` is not a commune. */
  async provinceOf(manager: EntityManager, code: string): Promise<string | null> {
    return (await this.lookup(manager, [code])).get(code) ?? null;
  }
}
