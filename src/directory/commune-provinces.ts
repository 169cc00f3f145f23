import type { EntityManager } from 'typeorm';

/** How long a commune's province is trusted from memory: a units import shows within this time. */
export const COMMUNE_PROVINCE_TTL_MS = 5 * 60 * 1000;

/**
 * The province of each commune (admin_units, level `commune`), cached: asked on every registration and every
 * access-log entry, and changed only by a units import (`npm run units:import`), whose changes show within
 * COMMUNE_PROVINCE_TTL_MS. Codes that are not communes are never cached, so a commune added by an import is
 * found at once.
 */
export class CommuneProvinces {
  private readonly cache = new Map<string, { province: string; until: number }>();

  constructor(
    private readonly ttlMs = COMMUNE_PROVINCE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

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
    if (missing.length) {
      const rows = await manager.query<{ code: string; province_code: string | null }[]>(
        `SELECT code, province_code FROM admin_units WHERE code = ANY($1::varchar[]) AND level = 'commune'`,
        [missing],
      );
      for (const r of rows) {
        if (!r.province_code) continue;
        this.cache.set(r.code, { province: r.province_code, until: now + this.ttlMs });
        out.set(r.code, r.province_code);
      }
    }
    return out;
  }

  /** The province of one commune, or null when `code` is not a commune. */
  async provinceOf(manager: EntityManager, code: string): Promise<string | null> {
    return (await this.lookup(manager, [code])).get(code) ?? null;
  }
}
