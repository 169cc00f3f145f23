import type { EntityManager } from 'typeorm';
import type { DemoSeedStep } from '../database/seed/demo-seed';
import { AdminUnit, AdminUnitKind } from './admin-unit.entity';

type Unit = Pick<AdminUnit, 'code' | 'kind' | 'nameVi' | 'nameEn'>;

// Official codes and names (Decision 19/2025/QĐ-TTg) of the units the demo data set needs.
const PROVINCES: Unit[] = [
  { code: '01', kind: 'thanh_pho', nameVi: 'Hà Nội', nameEn: 'Hanoi' },
  { code: '11', kind: 'tinh', nameVi: 'Điện Biên', nameEn: 'Dien Bien' },
  { code: '31', kind: 'thanh_pho', nameVi: 'Hải Phòng', nameEn: 'Haiphong' },
];

const COMMUNES: Record<string, Unit[]> = {
  '01': [
    { code: '00004', kind: 'phuong', nameVi: 'Ba Đình', nameEn: 'Ba Dinh' },
    { code: '00070', kind: 'phuong', nameVi: 'Hoàn Kiếm', nameEn: 'Hoan Kiem' },
    { code: '00118', kind: 'phuong', nameVi: 'Bồ Đề', nameEn: 'Bo De' },
    { code: '00127', kind: 'phuong', nameVi: 'Việt Hưng', nameEn: 'Viet Hung' },
    { code: '00136', kind: 'phuong', nameVi: 'Phúc Lợi', nameEn: 'Phuc Loi' },
    { code: '00145', kind: 'phuong', nameVi: 'Long Biên', nameEn: 'Long Bien' },
  ],
  '11': [
    { code: '03127', kind: 'phuong', nameVi: 'Điện Biên Phủ', nameEn: 'Dien Bien Phu' },
    { code: '03151', kind: 'phuong', nameVi: 'Mường Lay', nameEn: 'Muong Lay' },
    { code: '03158', kind: 'xa', nameVi: 'Sín Thầu', nameEn: 'Sin Thau' },
  ],
  '31': [
    { code: '10507', kind: 'phuong', nameVi: 'Thành Đông', nameEn: 'Thanh Dong' },
    { code: '10525', kind: 'phuong', nameVi: 'Hải Dương', nameEn: 'Hai Duong' },
    { code: '10532', kind: 'phuong', nameVi: 'Lê Thanh Nghị', nameEn: 'Le Thanh Nghi' },
  ],
};

const KIND_NAMES: Record<AdminUnitKind, { vi: string; en: string }> = {
  tinh: { vi: 'Tỉnh', en: 'Province' },
  thanh_pho: { vi: 'Thành phố', en: 'City' },
  phuong: { vi: 'Phường', en: 'Ward' },
  xa: { vi: 'Xã', en: 'Commune' },
  dac_khu: { vi: 'Đặc khu', en: 'Special Zone' },
};

function row(u: Unit, provinceCode: string | null): Partial<AdminUnit> {
  const k = KIND_NAMES[u.kind];
  return {
    ...u,
    level: provinceCode ? 'commune' : 'province',
    provinceCode,
    fullNameVi: `${k.vi} ${u.nameVi}`,
    fullNameEn: `${u.nameEn} ${k.en}`,
  };
}

export const demoAdminUnitsStep: DemoSeedStep = {
  name: 'admin-units',
  async run(manager: EntityManager): Promise<void> {
    // Inserted, never updated: the service's role may not change a unit (migration UnitsFixedForService), and
    // the demo is seeded on an installation without units only (DemoSeedService).
    await manager.insert(
      AdminUnit,
      PROVINCES.map((p) => row(p, null)),
    );
    await manager.insert(
      AdminUnit,
      Object.entries(COMMUNES).flatMap(([province, units]) => units.map((u) => row(u, province))),
    );
  },
};
