import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { AdminUnit } from './admin-unit.entity';

/** Narrow queries on administrative units. */
@Injectable()
export class AdminUnitsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(AdminUnit);
  }

  provinces(): Promise<AdminUnit[]> {
    return this.repo().find({ where: { level: 'province' }, order: { code: 'ASC' } });
  }

  communesOf(provinceCode: string): Promise<AdminUnit[]> {
    return this.repo().find({ where: { level: 'commune', provinceCode }, order: { code: 'ASC' } });
  }

  findByCodes(codes: readonly string[], manager?: EntityManager): Promise<AdminUnit[]> {
    if (codes.length === 0) return Promise.resolve([]);
    return this.repo(manager).find({ where: { code: In([...codes]) } });
  }
}
