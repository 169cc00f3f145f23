import type { EntityManager } from 'typeorm';
import type { DemoSeedStep } from '../database/seed/demo-seed';
import type { Sector } from './organization.entity';
import { organizationNameKey } from './organization-name';

export interface DemoOrganization {
  name: string;
  sector: Sector;
  provinceCode: string;
  /** Communes served; absent = the whole province. */
  communeCodes?: string[];
}

// The organisations of the contract's demo data set (api-contract "Demo data set").
export const DEMO_ORGANIZATIONS: readonly DemoOrganization[] = [
  { name: 'Công an phường Long Biên', sector: 'police', provinceCode: '01', communeCodes: ['00145'] },
  { name: 'Trạm y tế phường Long Biên', sector: 'health', provinceCode: '01', communeCodes: ['00145'] },
  { name: 'Trung tâm Công tác xã hội Hà Nội', sector: 'social', provinceCode: '01' },
];

export const demoOrganizationsStep: DemoSeedStep = {
  name: 'organizations',
  async run(manager: EntityManager): Promise<void> {
    for (const o of DEMO_ORGANIZATIONS) {
      const [row] = await manager.query<{ id: string }[]>(
        `INSERT INTO organizations (name, sector, province_code, service_scope, name_key)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (province_code, coalesce(name_key, lower(name))) WHERE retired_at IS NULL
         DO UPDATE SET sector = EXCLUDED.sector
         RETURNING id`,
        [
          o.name,
          o.sector,
          o.provinceCode,
          o.communeCodes ? 'communes' : 'province',
          organizationNameKey(o.name),
        ],
      );
      if (o.communeCodes) {
        await manager.query(
          `INSERT INTO organization_communes (organization_id, commune_code)
           SELECT $1, unnest($2::varchar[]) ON CONFLICT DO NOTHING`,
          [row.id, o.communeCodes],
        );
      }
    }
  },
};
