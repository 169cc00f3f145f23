import { Injectable } from '@nestjs/common';
import { AdminUnit } from './admin-unit.entity';
import { AdminUnitsRepository } from './admin-units.repository';
import { AdminUnitList, AdminUnitView } from './dto/admin-unit.dto';

/** The administrative map: provinces, and the commune-level units of one province. */
@Injectable()
export class AdminUnitsService {
  constructor(private readonly units: AdminUnitsRepository) {}

  async list(provinceCode?: string): Promise<AdminUnitList> {
    const rows = provinceCode ? await this.units.communesOf(provinceCode) : await this.units.provinces();
    return { items: rows.map(view) };
  }
}

function view(u: AdminUnit): AdminUnitView {
  return {
    code: u.code,
    level: u.level,
    kind: u.kind,
    provinceCode: u.provinceCode,
    nameVi: u.nameVi,
    nameEn: u.nameEn,
    fullNameVi: u.fullNameVi,
    fullNameEn: u.fullNameEn,
  };
}
