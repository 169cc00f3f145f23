import { Module } from '@nestjs/common';
import { AdminUnitsController } from './admin-units.controller';
import { AdminUnitsRepository } from './admin-units.repository';
import { AdminUnitsService } from './admin-units.service';
import { CommuneProvinces } from './commune-provinces';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsRepository } from './organizations.repository';
import { OrganizationsService } from './organizations.service';

/** Administrative units and organisations. */
@Module({
  controllers: [AdminUnitsController, OrganizationsController],
  providers: [
    AdminUnitsRepository,
    AdminUnitsService,
    CommuneProvinces,
    OrganizationsRepository,
    OrganizationsService,
  ],
  exports: [AdminUnitsRepository, CommuneProvinces, OrganizationsRepository],
})
export class DirectoryModule {}
